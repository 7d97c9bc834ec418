/**
 * A process-wide pool of SQLite query processes (sqlite-query-process.mjs) with a concurrency limit and a queue.
 *
 * A query never runs on the event loop: each runs in a child process with its own read-only connection and a
 * capped V8 heap. Not a worker thread, because SQLite computes inside native code that `worker.terminate()`
 * cannot interrupt (measured: a recursive CTE without end keeps the thread spinning and terminate() never
 * resolves); a process can always be killed. On time-out or abort the process is killed with SIGKILL and a fresh
 * one takes the next query. Idle processes are reused, do not keep the host alive, and exit after a while, or
 * with the host: an idle one when the IPC channel closes, a busy one through its watchdog thread.
 *
 * Memory: SQLite's own allocations (a value may reach better-sqlite3's SQLITE_LIMIT_LENGTH, about 512 MiB) are the
 * child's, not the host's, and on Linux the child volunteers to be the first process the kernel's OOM killer ends.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KeelError } from '../errors/index.ts';

export interface SqliteQueryJob {
  readonly databasePath: string;
  readonly sql: string;
  /** Rows to read; one more row than this sets `truncated`. */
  readonly maxRows: number;
  /** Budget for the rows as JSON, and for any single value. */
  readonly maxResultBytes: number;
  /** Longest the query may run once a process has started on it. */
  readonly timeoutMs: number;
  /** Aborting kills the query's process (or takes it out of the queue); the promise rejects with the reason. */
  readonly signal: AbortSignal;
}

export type SqliteQueryOutcome =
  | { readonly ok: true; readonly columns: string[]; readonly rows: Record<string, unknown>[]; readonly truncated: boolean; readonly bytes: number }
  /** SQLite itself says the statement writes or returns no rows, or there are several statements. */
  | { readonly ok: false; readonly kind: 'rejected'; readonly what: string }
  | { readonly ok: false; readonly kind: 'sql-error' | 'open-failed'; readonly message: string }
  | { readonly ok: false; readonly kind: 'too-large'; readonly reason: 'value' | 'result'; readonly bytes: number; readonly rowsRead: number; readonly column?: string }
  | { readonly ok: false; readonly kind: 'timeout' }
  | { readonly ok: false; readonly kind: 'crashed'; readonly message: string; readonly outOfMemory: boolean };

export interface SqliteQueryPoolOptions {
  /** Queries running at once in this process, across all tools; more wait in a queue. Defaults to the CPU count, between 2 and 4. */
  readonly maxProcesses?: number;
  /** V8 old-generation heap of each query process, in MiB; defaults to 256. */
  readonly heapMb?: number;
}

export interface SqliteQueryPoolStatistics {
  readonly processes: number;
  readonly running: number;
  readonly queued: number;
  /** Processes started since the host started. */
  readonly started: number;
  /** Processes killed on time-out or abort. */
  readonly killed: number;
  /** Operating-system ids of the processes running a query now. */
  readonly runningProcessIds: readonly number[];
}

const program = fileURLToPath(new URL('./sqlite-query-process.mjs', import.meta.url));
const startupTimeoutMs = 15_000;
const idleExitMs = 30_000;
const stderrKeptChars = 2_000;

interface Queued {
  readonly job: SqliteQueryJob;
  readonly resolve: (outcome: SqliteQueryOutcome) => void;
  readonly reject: (reason: unknown) => void;
}

interface Running extends Queued {
  readonly timer: NodeJS.Timeout;
  readonly onAbort: () => void;
  /** Set when the host killed the process, so its exit is not reported as a crash. */
  stoppedBy: 'timeout' | 'abort' | null;
}

interface QueryProcess {
  readonly child: ChildProcess;
  ready: boolean;
  running: Running | null;
  timer: NodeJS.Timeout | null;
  stderr: string;
  /** Killed by the host: it takes no further query, even if its last answer arrives before it exits. */
  stopping: boolean;
}

const settings = { maxProcesses: Math.max(2, Math.min(4, availableParallelism())), heapMb: 256 };
const processes = new Set<QueryProcess>();
const waiting: Queued[] = [];
const counters = { started: 0, killed: 0 };
let nextId = 0;

/** Changes the pool's limits; processes already running keep their heap size until they are replaced. */
export function configureSqliteQueryPool(options: SqliteQueryPoolOptions): void {
  const { maxProcesses = settings.maxProcesses, heapMb = settings.heapMb } = options;
  if (!Number.isInteger(maxProcesses) || maxProcesses < 1) throw new KeelError('invalid-config', `SQLite query pool: maxProcesses must be a positive integer, got ${maxProcesses}.`);
  if (!Number.isInteger(heapMb) || heapMb < 16) throw new KeelError('invalid-config', `SQLite query pool: heapMb must be an integer of at least 16, got ${heapMb}.`);
  settings.maxProcesses = maxProcesses;
  settings.heapMb = heapMb;
  dispatch();
}

export function sqliteQueryPoolStatistics(): SqliteQueryPoolStatistics {
  const running = [...processes].filter((entry) => entry.running !== null);
  return {
    processes: processes.size,
    running: running.length,
    queued: waiting.length,
    started: counters.started,
    killed: counters.killed,
    runningProcessIds: running.map((entry) => entry.child.pid).filter((pid): pid is number => pid !== undefined),
  };
}

/** Starts a process ahead of the first query, unless one exists; it waits idle and does not keep the host alive. */
export function warmSqliteQueryPool(): void {
  if (processes.size === 0) idle(spawn());
}

/** Ends the idle processes now (a running query keeps its process until it ends); the pool starts new ones on demand. */
export function closeIdleSqliteQueryProcesses(): void {
  for (const entry of processes) if (entry.running === null) retire(entry);
}

/** Runs one query in a pooled process. Resolves with its outcome; rejects only when `job.signal` aborts. */
export function runSqliteQuery(job: SqliteQueryJob): Promise<SqliteQueryOutcome> {
  if (job.signal.aborted) return Promise.reject(job.signal.reason);
  return new Promise<SqliteQueryOutcome>((resolve, reject) => {
    const leaveQueue = (): void => {
      const index = waiting.indexOf(queued);
      if (index === -1) return;
      waiting.splice(index, 1);
      reject(job.signal.reason);
    };
    const queued: Queued = {
      job,
      resolve: (outcome) => {
        job.signal.removeEventListener('abort', leaveQueue);
        resolve(outcome);
      },
      reject: (reason) => {
        job.signal.removeEventListener('abort', leaveQueue);
        reject(reason);
      },
    };
    job.signal.addEventListener('abort', leaveQueue, { once: true });
    waiting.push(queued);
    dispatch();
  });
}

function spawn(): QueryProcess {
  const child = fork(program, [], {
    execArgv: [`--max-old-space-size=${settings.heapMb}`],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  counters.started++;
  const entry: QueryProcess = { child, ready: false, running: null, timer: null, stderr: '', stopping: false };
  processes.add(entry);
  entry.timer = setTimeout(() => failStartup(entry, `did not start within ${startupTimeoutMs} ms`), startupTimeoutMs);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    entry.stderr = (entry.stderr + chunk).slice(-stderrKeptChars);
  });
  child.on('message', (message: { ready?: true } & Record<string, unknown>) => onMessage(entry, message));
  child.on('error', (error) => onExit(entry, `could not run: ${error.message}`));
  child.on('exit', (code, signal) => onExit(entry, signal === null ? `exited with code ${code}` : `was killed by ${signal}`));
  return entry;
}

function onMessage(entry: QueryProcess, message: { ready?: true } & Record<string, unknown>): void {
  if (!processes.has(entry)) return;
  clearTimer(entry);
  if (message.ready === true) {
    entry.ready = true;
  } else if (entry.running !== null) {
    const running = finish(entry);
    const { id: _id, ...outcome } = message;
    running.resolve(outcome as unknown as SqliteQueryOutcome);
  }
  if (!entry.stopping) idle(entry);
  dispatch();
}

/** The process's current query is over: its timer and abort listener go. */
function finish(entry: QueryProcess): Running {
  const running = entry.running!;
  entry.running = null;
  clearTimeout(running.timer);
  running.job.signal.removeEventListener('abort', running.onAbort);
  return running;
}

function onExit(entry: QueryProcess, how: string): void {
  if (!processes.has(entry)) return;
  processes.delete(entry);
  clearTimer(entry);
  if (!entry.ready) {
    failStartup(entry, `${how}${entry.stderr === '' ? '' : `: ${entry.stderr.trim()}`}`);
    return;
  }
  // A replacement starts now, so the next query does not wait for a process to start.
  if (entry.stopping && processes.size < settings.maxProcesses) idle(spawn());
  if (entry.running !== null) {
    const running = finish(entry);
    if (running.stoppedBy === 'timeout') running.resolve({ ok: false, kind: 'timeout' });
    else if (running.stoppedBy === 'abort') running.reject(running.job.signal.reason);
    else {
      const outOfMemory = /heap out of memory|Allocation failed|Reached heap limit/i.test(entry.stderr) || how.includes('SIGKILL');
      running.resolve({ ok: false, kind: 'crashed', message: `The query process ${how}${entry.stderr === '' ? '' : ` (${entry.stderr.trim().split('\n').at(-1)})`}`, outOfMemory });
    }
  }
  dispatch();
}

/** A process that cannot start fails the queries waiting for it: starting another would fail the same way. */
function failStartup(entry: QueryProcess, how: string): void {
  retire(entry);
  for (const queued of waiting.splice(0)) queued.resolve({ ok: false, kind: 'crashed', message: `The SQLite query process ${how}`, outOfMemory: false });
}

function clearTimer(entry: QueryProcess): void {
  if (entry.timer !== null) clearTimeout(entry.timer);
  entry.timer = null;
}

/** An idle process (or one starting with no query waiting) neither keeps the host alive nor, once started, stays forever. */
function idle(entry: QueryProcess): QueryProcess {
  holdHost(entry, false);
  if (entry.ready) entry.timer = setTimeout(() => retire(entry), idleExitMs);
  entry.timer?.unref();
  return entry;
}

/** Whether the process, its IPC channel and its stderr pipe keep the host's event loop alive. */
function holdHost(entry: QueryProcess, hold: boolean): void {
  const stderr = entry.child.stderr as unknown as { ref?: () => void; unref?: () => void } | null;
  if (hold) {
    entry.child.ref();
    entry.child.channel?.ref();
    stderr?.ref?.();
  } else {
    entry.child.unref();
    entry.child.channel?.unref();
    stderr?.unref?.();
  }
}

function retire(entry: QueryProcess): void {
  processes.delete(entry);
  clearTimer(entry);
  entry.child.kill('SIGKILL');
}

function dispatch(): void {
  while (waiting.length > 0) {
    const free = [...processes].find((entry) => entry.ready && entry.running === null && !entry.stopping);
    if (free === undefined) {
      const starting = [...processes].find((entry) => !entry.ready);
      if (starting !== undefined) starting.timer?.ref();
      else if (processes.size < settings.maxProcesses) spawn();
      return;
    }
    start(free, waiting.shift()!);
  }
}

function start(entry: QueryProcess, queued: Queued): void {
  const { job } = queued;
  clearTimer(entry);
  holdHost(entry, true);
  const stop = (reason: 'timeout' | 'abort'): void => {
    if (entry.running !== running) return;
    running.stoppedBy = reason;
    entry.stopping = true;
    counters.killed++;
    entry.child.kill('SIGKILL');
  };
  const running: Running = { ...queued, timer: setTimeout(() => stop('timeout'), job.timeoutMs), onAbort: () => stop('abort'), stoppedBy: null };
  entry.running = running;
  job.signal.addEventListener('abort', running.onAbort, { once: true });
  entry.child.send({ id: ++nextId, databasePath: job.databasePath, sql: job.sql, maxRows: job.maxRows, maxResultBytes: job.maxResultBytes });
}
