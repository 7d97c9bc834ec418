// A session run by the fault suite in a process whose files may not grow past RLIMIT_FSIZE (set by the parent
// with `ulimit -f`, SIGXFSZ ignored so that a write past the limit fails with EFBIG instead of killing the process):
// a size-limited disk for the default composition, createKeel({ database }), without privileges. It reports every
// event written and how the run ended; the parent resumes the session afterwards, with the limit gone.
//
//   node --import tsx test/suites/file-size-limited-child.ts <database> <far-end folder>
import { createKeel } from '../../src/runtime/index.ts';
import { toKeelError } from '../../src/errors/index.ts';
import { createBiller, openFarEnd } from './far-end.ts';
import { adaThenBob, startProvider } from './fault-kit.ts';

const [databasePath, farEndDirectory] = process.argv.slice(2);
if (databasePath === undefined || farEndDirectory === undefined) throw new Error('usage: file-size-limited-child <database> <far-end folder>');
{
  const setup = await startProvider('anthropic', adaThenBob, { byTurn: true });
  let outcome: Record<string, unknown> = { outcome: 'not started' };
  let sessionId: string | null = null;
  try {
    const keel = createKeel({ database: databasePath, model: setup.model, modelRetries: 0 });
    const run = keel.run(createBiller(openFarEnd(farEndDirectory)), { task: 'Charge ada and bob.',
      onUpdate: (update) => {
        if (update.type === 'event') process.stdout.write(`EVENT ${update.event.seq} ${update.event.type}\n`);
      },
    });
    sessionId = run.sessionId;
    try {
      const result = await run.result;
      outcome = { outcome: 'completed', status: result.status };
    } catch (error) {
      const keelError = toKeelError(error);
      outcome = { outcome: 'rejected', code: keelError.code, retryable: keelError.retryable, message: keelError.message };
    }
    await keel.close().catch(() => undefined);
  } catch (error) {
    // Opening the database (its migrations) can already hit the limit.
    const keelError = toKeelError(error);
    outcome = { outcome: 'open failed', code: keelError.code, message: keelError.message };
  }
  process.stdout.write(`RESULT ${JSON.stringify({ sessionId, ...outcome })}\n`);
  await setup.server.close();
}
