/**
 * Runs node-sql-parser in a worker thread, synchronously and under a time limit.
 *
 * Zod refinements are synchronous, so the guard must parse synchronously; but node-sql-parser is a backtracking
 * PEG parser whose time grows exponentially on some malformed input (twelve unclosed `(SELECT ` take about 25 s,
 * six nested CASTs with an error inside about 2 s). A model, or text injected into its context, must not be
 * able to stall the event loop that way. So the parse runs in a worker per dialect; the caller blocks on
 * `Atomics.wait` for at most the time limit, reads the reply with `receiveMessageOnPort`, and on timeout
 * terminates the worker (a fresh one starts on the next call) and reports the query as too complex.
 */
import { createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { sqlDialectNames } from './sql-scanner.ts';
import type { SqlDialect } from './sql-scanner.ts';

export type ParseReply =
  | { readonly ok: true; readonly ast: unknown; readonly tableList: readonly string[] }
  | { readonly ok: false; readonly kind: 'syntax'; readonly message: string; readonly offset: number | null; readonly line: number | null; readonly column: number | null }
  | { readonly ok: false; readonly kind: 'timeout' | 'failed'; readonly message: string };

const parserBuilds: Readonly<Record<SqlDialect, string>> = {
  sqlite: 'node-sql-parser/build/sqlite.js',
  postgresql: 'node-sql-parser/build/postgresql.js',
  mysql: 'node-sql-parser/build/mysql.js',
};

/** Time a new worker gets to load its parser before the call fails closed. */
const startupTimeoutMs = 15_000;

// Plain JavaScript, so the worker needs no TypeScript loader. state[0]: 1 once ready; state[1]: replies sent.
const workerSource = `
const { workerData } = require('node:worker_threads');
const { Parser } = require(workerData.parserPath);
const parser = new Parser();
const state = new Int32Array(workerData.state);
const port = workerData.port;
port.on('message', (job) => {
  let reply;
  try {
    const result = parser.parse(job.sql, { database: job.database });
    reply = { id: job.id, ok: true, ast: result.ast, tableList: result.tableList };
  } catch (error) {
    const location = error && error.location && error.location.start;
    reply = error && error.name === 'SyntaxError' && location
      ? { id: job.id, ok: false, kind: 'syntax', message: String(error.message).slice(0, 500), offset: location.offset, line: location.line, column: location.column }
      : { id: job.id, ok: false, kind: 'failed', message: String(error && error.message).slice(0, 200) };
  }
  try {
    port.postMessage(reply);
  } catch (error) {
    port.postMessage({ id: job.id, ok: false, kind: 'failed', message: 'the parse result could not be sent back: ' + String(error && error.message).slice(0, 200) });
  }
  Atomics.add(state, 1, 1);
  Atomics.notify(state, 1);
});
Atomics.store(state, 0, 1);
Atomics.notify(state, 0);
`;

interface ParserWorker {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly state: Int32Array;
  nextId: number;
  dead: boolean;
}

const workers = new Map<SqlDialect, ParserWorker>();
const require = createRequire(import.meta.url);

function spawn(dialect: SqlDialect): ParserWorker {
  const state = new Int32Array(new SharedArrayBuffer(8));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(workerSource, {
    eval: true,
    execArgv: [],
    workerData: { parserPath: require.resolve(parserBuilds[dialect]), state: state.buffer, port: port2 },
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  });
  const entry: ParserWorker = { worker, port: port1, state, nextId: 0, dead: false };
  const gone = () => {
    entry.dead = true;
    if (workers.get(dialect) === entry) workers.delete(dialect);
  };
  worker.on('error', gone);
  worker.on('exit', gone);
  // Neither keeps the process alive: an idle parser must not hold a CLI or a test run open.
  worker.unref();
  port1.unref();
  workers.set(dialect, entry);
  return entry;
}

function retire(dialect: SqlDialect, entry: ParserWorker): void {
  entry.dead = true;
  if (workers.get(dialect) === entry) workers.delete(dialect);
  entry.port.close();
  entry.worker.terminate().catch(() => undefined);
}

/** Starts the dialect's worker without waiting, so the first validation does not pay for it. */
export function warmSqlParser(dialect: SqlDialect): void {
  const entry = workers.get(dialect);
  if (entry === undefined || entry.dead) spawn(dialect);
}

/** Parses `sql` with node-sql-parser's `dialect` grammar, blocking for at most `timeoutMs` (plus worker startup). */
export function parseSqlBounded(sql: string, dialect: SqlDialect, timeoutMs: number): ParseReply {
  let entry = workers.get(dialect);
  if (entry === undefined || entry.dead) entry = spawn(dialect);
  if (Atomics.load(entry.state, 0) === 0) {
    Atomics.wait(entry.state, 0, 0, startupTimeoutMs);
    if (Atomics.load(entry.state, 0) === 0) {
      retire(dialect, entry);
      return { ok: false, kind: 'failed', message: `the ${sqlDialectNames[dialect]} parser did not start within ${startupTimeoutMs} ms` };
    }
  }
  const id = ++entry.nextId;
  let seen = Atomics.load(entry.state, 1);
  entry.port.postMessage({ id, sql, database: dialect });
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const received = receiveMessageOnPort(entry.port) as { message: ParseReply & { id: number } } | undefined;
    if (received !== undefined) {
      if (received.message.id === id) {
        const { id: _id, ...reply } = received.message;
        return reply as ParseReply;
      }
      continue;
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    if (Atomics.wait(entry.state, 1, seen, remaining) === 'timed-out') continue;
    seen = Atomics.load(entry.state, 1);
  }
  retire(dialect, entry);
  return { ok: false, kind: 'timeout', message: `parsing took longer than ${timeoutMs} ms` };
}
