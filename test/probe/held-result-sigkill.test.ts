// Probe (session 10, held tool results): a real child process is killed with SIGKILL while the session writer holds
// the last tool result of a step, i.e. after the tool ran and before the next turn's request is committed. The resume
// (a second child) must not run the tool again, the journal must stay valid and seq-contiguous, and the audit log
// must keep exactly one record per execution.
//
// The kill point is the first blob put after the step's tools ran: the next turn's request blob, stored before its
// model-request is appended (the window a slow blob store, a context compaction or memory retrieval widens).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';

const root = resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-result-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const childSource = `
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKeel } from ${JSON.stringify(join(root, 'src/runtime/index.ts'))};
import { createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore } from ${JSON.stringify(join(root, 'src/store/index.ts'))};
import { loadScriptedModel } from ${JSON.stringify(join(root, 'src/model/index.ts'))};
import { createCrashAgent } from ${JSON.stringify(join(root, 'test/crash/crash-agent.ts'))};

const [mode, databasePath, effects, sessionId, variant, killAfterExecutions] = process.argv.slice(2);
const store = createSqliteStore({ path: databasePath });
const executions = () => (existsSync(join(effects, 'attempts.log')) ? readFileSync(join(effects, 'attempts.log'), 'utf8').split('\\n').filter(Boolean).length : 0);
const kill = Number(killAfterExecutions);
const blobs = new Proxy(store.blobs, {
  get(target, property, receiver) {
    const value = Reflect.get(target, property, receiver);
    if (property !== 'put' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
    return (...args) => {
      // The next turn's request blob, after the step's tools ran: the last result of the step is held now.
      if (mode === 'start' && kill > 0 && executions() >= kill) {
        appendFileSync(join(effects, 'killed'), 'x');
        process.kill(process.pid, 'SIGKILL');
      }
      return value.apply(target, args);
    };
  },
});
const recorded = variant === 'given-memory-idempotency' ? {} : { idempotency: createSqliteIdempotencyStore(store.database), auditLog: createSqliteAuditLog({ database: store.database }) };
const keel = createKeel({ journal: store.journal, blobs, ...recorded, model: loadScriptedModel(${JSON.stringify(join(root, 'test/crash/crash-model.json'))}), modelRetries: 0, modelLimits: false });
const agent = createCrashAgent(effects);
const run = mode === 'start' ? keel.run(agent, { task: 'Charge ada, bob and cy.', sessionId }) : await keel.resume(agent, sessionId);
const result = await run.result;
process.stdout.write('RESULT ' + JSON.stringify({ status: result.status, error: result.error }) + '\\n');
await keel.close();
await store.close();
`;

interface Outcome {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runChild(directory: string, mode: 'start' | 'resume', variant: string, killAfterExecutions: number): Outcome {
  const script = join(directory, 'child.mts');
  if (!existsSync(script)) writeFileSync(script, childSource);
  const outcome = spawnSync(process.execPath, ['--import', 'tsx', script, mode, join(directory, 'keel.db'), join(directory, 'effects'), 'ses_held', variant, String(killAfterExecutions)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: outcome.status, signal: outcome.signal, stdout: outcome.stdout, stderr: outcome.stderr };
}

async function journalOf(directory: string): Promise<SessionEvent[]> {
  const store = createSqliteStore({ path: join(directory, 'keel.db') });
  try {
    const events: SessionEvent[] = [];
    for await (const event of store.journal.read('ses_held')) events.push(event);
    return events;
  } finally {
    await store.close();
  }
}

function attemptsByKey(directory: string): Map<string, number> {
  const counts = new Map<string, number>();
  const path = join(directory, 'effects', 'attempts.log');
  if (!existsSync(path)) return counts;
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const key = line.split(' ')[0] ?? '';
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Starts the session, SIGKILLed once `killAfterExecutions` tool executions happened and the next request blob is put; then resumes it. */
async function crashAndResume(name: string, variant: string, killAfterExecutions: number) {
  const directory = join(scratch, name);
  mkdirSync(join(directory, 'effects'), { recursive: true });
  const first = runChild(directory, 'start', variant, killAfterExecutions);
  expect(first.signal, first.stderr).toBe('SIGKILL');
  const before = await journalOf(directory);
  const second = runChild(directory, 'resume', variant, 0);
  expect(second.status, second.stderr).toBe(0);
  expect(second.stdout).toContain('"status":"completed"');
  const after = await journalOf(directory);
  return { directory, before, after };
}

function resultCallIds(events: readonly SessionEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'tool-result' ? [event.callId] : []));
}

describe('SIGKILL while the last tool result of a step is held (real child processes)', () => {
  it('with SQLite idempotency records and audit log: the resume answers from the record, no tool runs twice, one audit record per call', async () => {
    const { directory, before, after } = await crashAndResume('sqlite-records', 'given-sqlite-idempotency', 2);
    // The kill came while toolu_02 (the last of turn 1's two calls) was held: the journal had only toolu_01's result.
    expect(resultCallIds(before)).toEqual(['toolu_01']);
    expect(validateJournal(after).problems).toEqual([]);
    expect(after.map((event) => event.seq)).toEqual(after.map((_event, index) => index + 1));
    expect(after.slice(0, before.length)).toEqual(before);
    expect(resultCallIds(after)).toEqual(['toolu_01', 'toolu_02', 'toolu_03']);
    expect([...attemptsByKey(directory).values()]).toEqual([1, 1, 1]);
    const store = createSqliteStore({ path: join(directory, 'keel.db') });
    try {
      const rows = store.database.prepare('SELECT call_id AS callId, COUNT(*) AS n FROM audit_records WHERE session_id = ? GROUP BY call_id ORDER BY call_id').all('ses_held');
      expect(rows).toEqual([
        { callId: 'toolu_01', n: 1 },
        { callId: 'toolu_02', n: 1 },
        { callId: 'toolu_03', n: 1 },
      ]);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('a single-call step (turn 2) killed while its result is held: resumed without re-running it', async () => {
    const { directory, before, after } = await crashAndResume('sqlite-single', 'given-sqlite-idempotency', 3);
    expect(resultCallIds(before)).toEqual(['toolu_01', 'toolu_02']);
    expect(validateJournal(after).problems).toEqual([]);
    expect(resultCallIds(after)).toEqual(['toolu_01', 'toolu_02', 'toolu_03']);
    expect([...attemptsByKey(directory).values()]).toEqual([1, 1, 1]);
  }, 120_000);

  // createKeel({ journal, blobs }) with no `idempotency` gets an in-memory idempotency store (backends.ts, `given`),
  // whose record dies with the process: a result must not be held on it (at eac4b5b it was, and the resume found
  // neither the result nor the record and charged the customer again; fixed by 86c063f, `IdempotencyStore.durable`).
  it('with createKeel({ journal, blobs }) and its default (in-memory) idempotency store: nothing is held, no tool runs twice', async () => {
    const { directory, before, after } = await crashAndResume('memory-records', 'given-memory-idempotency', 2);
    expect([...attemptsByKey(directory).values()]).toEqual([1, 1, 1]);
    expect(validateJournal(after).problems).toEqual([]);
    expect(resultCallIds(before)).toEqual(['toolu_01', 'toolu_02']);
  }, 120_000);
});
