/**
 * Runs node-sql-parser in a worker thread, asynchronously and under a time limit.
 *
 * node-sql-parser is a backtracking PEG parser whose time grows exponentially on some malformed input (twelve
 * unclosed `(SELECT ` take about 25 s, six nested CASTs with an error inside about 2 s). A model, or text injected
 * into its context, must not be able to stall the event loop that way, so the parse never runs on it, and the
 * caller never blocks waiting: it gets a promise. Each dialect has one worker that parses one text at a time, in
 * the order asked; the time limit counts from the moment the worker starts on the text, and a worker past it is
 * terminated (the parser is plain JavaScript, so termination stops it mid-parse) and replaced for the next text.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sqlDialectNames } from './sql-scanner.ts';
import type { SqlDialect } from './sql-scanner.ts';

export type ParseReply =
  | { readonly ok: true; readonly ast: unknown; readonly tableList: readonly string[] }
  | { readonly ok: false; readonly kind: 'syntax'; readonly message: string; readonly offset: number | null; readonly line: number | null; readonly column: number | null }
  | { readonly ok: false; readonly kind: 'timeout' | 'failed'; readonly message: string }
  /** The worker could not start: a fault of the host, not of the text, so the verdict is not worth keeping. */
  | { readonly ok: false; readonly kind: 'unavailable'; readonly message: string };

export interface ParseRequest {
  readonly sql: string;
  readonly dialect: SqlDialect;
  /** Longest the parse may take once the worker has started on it. */
  readonly timeoutMs: number;
}

const parserBuilds: Readonly<Record<SqlDialect, string>> = {
  sqlite: 'node-sql-parser/build/sqlite.js',
  postgresql: 'node-sql-parser/build/postgresql.js',
  mysql: 'node-sql-parser/build/mysql.js',
};

/** Time a new worker gets to load its parser before the texts waiting for it fail. */
const startupTimeoutMs = 15_000;

// Plain JavaScript, so the worker needs no TypeScript loader. Its first message says it is ready.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { Parser } = require(workerData.parserPath);
const parser = new Parser();
parentPort.on('message', (job) => {
  let reply;
  try {
    const result = parser.parse(job.sql, { database: job.database });
    reply = { ok: true, ast: result.ast, tableList: result.tableList };
  } catch (error) {
    const location = error && error.location && error.location.start;
    reply = error && error.name === 'SyntaxError' && location
      ? { ok: false, kind: 'syntax', message: String(error.message).slice(0, 500), offset: location.offset, line: location.line, column: location.column }
      : { ok: false, kind: 'failed', message: String(error && error.message).slice(0, 200) };
  }
  try {
    parentPort.postMessage(reply);
  } catch (error) {
    parentPort.postMessage({ ok: false, kind: 'failed', message: 'the parse result could not be sent back: ' + String(error && error.message).slice(0, 200) });
  }
});
parentPort.postMessage({ ready: true });
`;

interface Job {
  readonly request: ParseRequest;
  readonly resolve: (reply: ParseReply) => void;
}

interface ParserWorker {
  readonly worker: Worker;
  ready: boolean;
  current: Job | null;
  timer: NodeJS.Timeout | null;
}

interface DialectQueue {
  readonly waiting: Job[];
  entry: ParserWorker | null;
}

const queues = new Map<SqlDialect, DialectQueue>();
const require = createRequire(import.meta.url);

function queueFor(dialect: SqlDialect): DialectQueue {
  let queue = queues.get(dialect);
  if (queue === undefined) {
    queue = { waiting: [], entry: null };
    queues.set(dialect, queue);
  }
  return queue;
}

function spawn(dialect: SqlDialect, queue: DialectQueue): ParserWorker {
  const worker = new Worker(workerSource, {
    eval: true,
    execArgv: [],
    workerData: { parserPath: require.resolve(parserBuilds[dialect]) },
    resourceLimits: { maxOldGenerationSizeMb: 256 },
  });
  const entry: ParserWorker = { worker, ready: false, current: null, timer: null };
  // Until it is ready, the startup limit runs. The worker itself never keeps the process alive; a parse's timer does.
  entry.timer = setTimeout(() => retire(dialect, queue, entry, { ok: false, kind: 'unavailable', message: `the ${sqlDialectNames[dialect]} parser did not start within ${startupTimeoutMs} ms` }), startupTimeoutMs);
  // A warm-up alone must not hold the process open; a text waiting for the worker does (see dispatch).
  entry.timer.unref();
  worker.on('message', (message: ParseReply | { ready: true }) => onMessage(dialect, queue, entry, message));
  const gone = (error?: Error): void => {
    const reason = error === undefined ? 'the parser stopped' : `the parser stopped: ${error.message}`;
    retire(dialect, queue, entry, entry.ready ? { ok: false, kind: 'failed', message: reason } : { ok: false, kind: 'unavailable', message: reason });
  };
  worker.on('error', gone);
  worker.on('exit', () => gone());
  worker.unref();
  queue.entry = entry;
  return entry;
}

function onMessage(dialect: SqlDialect, queue: DialectQueue, entry: ParserWorker, message: ParseReply | { ready: true }): void {
  if (queue.entry !== entry) return;
  clearTimer(entry);
  if ('ready' in message) {
    entry.ready = true;
  } else {
    const job = entry.current;
    entry.current = null;
    job?.resolve(message);
  }
  dispatch(dialect, queue);
}

function clearTimer(entry: ParserWorker): void {
  if (entry.timer !== null) clearTimeout(entry.timer);
  entry.timer = null;
}

/** Ends a worker: its current text gets `reply`; before it was ready, every waiting text does. The next text starts a new one. */
function retire(dialect: SqlDialect, queue: DialectQueue, entry: ParserWorker, reply: ParseReply): void {
  if (queue.entry !== entry) return;
  queue.entry = null;
  clearTimer(entry);
  entry.worker.terminate().catch(() => undefined);
  entry.current?.resolve(reply);
  entry.current = null;
  if (!entry.ready) for (const job of queue.waiting.splice(0)) job.resolve(reply);
  dispatch(dialect, queue);
}

function dispatch(dialect: SqlDialect, queue: DialectQueue): void {
  if (queue.waiting.length === 0) return;
  const entry = queue.entry ?? spawn(dialect, queue);
  if (!entry.ready) {
    entry.timer?.ref();
    return;
  }
  if (entry.current !== null) return;
  const job = queue.waiting.shift()!;
  entry.current = job;
  const { timeoutMs } = job.request;
  entry.timer = setTimeout(() => retire(dialect, queue, entry, { ok: false, kind: 'timeout', message: `parsing took longer than ${timeoutMs} ms` }), timeoutMs);
  entry.worker.postMessage({ sql: job.request.sql, database: dialect });
}

/** Starts the dialect's worker without waiting, so the first validation does not pay for it. */
export function warmSqlParser(dialect: SqlDialect): void {
  const queue = queueFor(dialect);
  if (queue.entry === null) spawn(dialect, queue);
}

/** Parses `sql` with node-sql-parser's grammar for its dialect, off the event loop; never rejects. */
export function parseSql(request: ParseRequest): Promise<ParseReply> {
  const queue = queueFor(request.dialect);
  return new Promise<ParseReply>((resolve) => {
    queue.waiting.push({ request, resolve });
    dispatch(request.dialect, queue);
  });
}
