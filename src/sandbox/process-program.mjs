// The program a sandboxed Node process runs (process and bubblewrap runners). It is plain JavaScript because the
// child is a bare `node` under the permission model, with no TypeScript loader and read access to this file alone.
// The parent writes one job as JSON to stdin; this program runs it and writes one answer, a JSON line, to fd 3,
// a pipe the parent reads with a byte cap; then the parent kills the process. Everything here runs beside the
// untrusted code and can be overwritten by it: the parent trusts none of it beyond "this is what the job says".
import { readFileSync, writeSync } from 'node:fs';

const answerDescriptor = 3;
const AsyncFunction = (async () => {}).constructor;

function describeError(error) {
  if (error instanceof Error) {
    const record = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (error));
    return {
      name: error.name,
      message: error.message,
      code: typeof record.code === 'string' ? record.code : undefined,
      permission: typeof record.permission === 'string' ? record.permission : undefined,
      resource: typeof record.resource === 'string' ? record.resource : undefined,
    };
  }
  return { name: 'Thrown value', message: String(error) };
}

let answered = false;
function answer(message) {
  if (answered) return;
  answered = true;
  const cpu = process.cpuUsage();
  const line = Buffer.from(`${JSON.stringify({ ...message, cpuMs: (cpu.user + cpu.system) / 1000, peakMemoryMb: process.resourceUsage().maxRSS / 1024 })}\n`);
  // A pipe may take a large answer in several writes.
  for (let written = 0; written < line.length; ) written += writeSync(answerDescriptor, line, written);
}

// Errors thrown later from callbacks (a socket's error event, a timer) end the job like a thrown error would.
process.on('uncaughtException', (error) => answer({ type: 'error', error: describeError(error) }));
process.on('unhandledRejection', (error) => answer({ type: 'error', error: describeError(error) }));

const job = JSON.parse(readFileSync(0, 'utf8'));
let value;
try {
  const body = new AsyncFunction('input', job.code);
  value = await body(job.input);
} catch (error) {
  answer({ type: 'error', error: describeError(error) });
}
if (!answered) {
  try {
    answer({ type: 'result', json: JSON.stringify(value) ?? 'null' });
  } catch (error) {
    answer({ type: 'not-serialisable', error: describeError(error) });
  }
}
