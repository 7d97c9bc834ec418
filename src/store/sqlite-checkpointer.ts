/**
 * Checkpoints a SQLite database's write-ahead log from a worker thread, on a clock, instead of inside commits.
 *
 * By default SQLite checkpoints inside the commit that takes the log past 1,000 pages: that commit copies every page
 * of the log into the database file and flushes it to the disk, on the event loop (a few milliseconds, every few
 * hundred commits of a busy journal). And with `synchronous = NORMAL` nothing is flushed between checkpoints, so
 * a power loss could undo every commit since the last one, however long ago that was on a quiet database.
 *
 * Here a worker thread with a connection of its own checkpoints every `intervalMs`, and sooner when the log passes a
 * quarter of `walLimitBytes`: the copy and both flushes run off the event loop, and a power loss can undo at most the
 * commits of about the last interval (plus the time a checkpoint takes). The checkpoints are PASSIVE: they never
 * take the write lock, so commits go on while they run, and one that a reader holds back is tried again at the next
 * interval. Writers that keep the log growing past a quarter of `walLimitBytes` get SQLite's own checkpoint back
 * until the log is small again: run right after their commits, it is what lets the log start over under writers that
 * never pause (a checkpoint from another connection cannot). The worker never takes the write lock. (Nothing bounds
 * the log while a reader holds an old snapshot, with SQLite's own checkpoint either.)
 *
 * The worker starts only once the database has been written to (a short-lived connection never pays for it), and
 * SQLite's automatic checkpoint stays on until the worker says it is ready. A worker that fails or exits hands the
 * checkpoints back to SQLite: no configuration can leave the log without a checkpointer.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { KeelError } from '../errors/index.ts';
import type { SqliteDatabase } from './sqlite-database.ts';

export interface BackgroundCheckpointOptions {
  /** Longest a commit waits for the checkpoint that flushes it to the database file. Defaults to 1,000 ms. */
  readonly intervalMs?: number;
  /** Size of the write-ahead log past which writers wait for a restarting checkpoint. Defaults to 64 MiB. */
  readonly walLimitBytes?: number;
}

export type CheckpointerState = 'waiting-for-writes' | 'starting' | 'running' | 'failed' | 'stopped';

export interface BackgroundCheckpoints {
  /** Where the checkpointer is; `failed` means SQLite's automatic checkpoint is back in charge (see `failure`). */
  readonly state: CheckpointerState;
  /** Why the worker stopped, when it failed. */
  readonly failure: string | undefined;
  /** Stops the worker and gives the checkpoints back to SQLite; the connection stays open. Idempotent. */
  stop(): Promise<void>;
}

export const defaultCheckpointIntervalMs = 1_000;
export const defaultWalLimitBytes = 64 * 1024 * 1024;
/** SQLite's own default for `wal_autocheckpoint`, restored whenever the worker is not running. */
const sqliteAutocheckpointPages = 1_000;
/** Rounds of PASSIVE checkpoint per tick: each copies what the writers added during the one before. */
const passiveRounds = 8;
/** How often the worker looks at the log's size between its regular checkpoints (a stat call). */
const pollMs = 10;
const stopTimeoutMs = 5_000;

// Plain JavaScript, so the worker needs no TypeScript loader. It answers with one `ready` message, then `failed` or nothing.
// Every interval it checkpoints whether or not the log looks changed: a checkpoint with nothing to copy costs a few
// system calls, and the file's size and time cannot tell two commits within one clock tick apart. Between intervals
// it looks at the log's size, so a log that writers fill fast is copied before it is large.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.driverPath);
let database;
try {
  database = new Database(workerData.path, { fileMustExist: true, timeout: workerData.busyTimeoutMs });
  database.pragma('synchronous = ' + workerData.synchronous);
} catch (error) {
  parentPort.postMessage({ failed: 'opening a checkpoint connection: ' + String(error && error.message) });
  process.exit(0);
}
const walPath = workerData.path + '-wal';
const earlyBytes = Math.floor(workerData.walLimitBytes / 4);
let lastCheckpointAt = Date.now();
let sizeAtLastCheckpoint = 0;
function walSize() {
  try {
    return statSync(walPath).size;
  } catch {
    return 0;
  }
}
const frameBytes = database.pragma('page_size', { simple: true }) + 24;
/** PASSIVE rounds, each copying what the writers added during the one before; the log's size in frames after them. */
function copyLog(rounds) {
  let frames;
  for (let round = 0; round < rounds; round += 1) {
    const [result] = database.pragma('wal_checkpoint(PASSIVE)');
    // Another connection's checkpoint was running (busy): it reports no size, and this round copied nothing.
    if (result.busy !== 0) break;
    frames = result.log;
    if (result.log === result.checkpointed) break;
  }
  return frames;
}
let behind = false;
function setBehind(value) {
  if (behind === value) return;
  behind = value;
  parentPort.postMessage({ behind: value });
}
/** The log starts over only when a writer begins while every frame is copied, which writers that never pause do not
 * give a checkpoint of another connection. Past a quarter of the limit they get SQLite's own checkpoint back (run
 * right after a commit, it lets the next transaction start the log over) until the log is small again. Never a
 * RESTART from here: it holds the write lock, and a worker thread descheduled on a loaded machine while holding it
 * would make the writers time out. */
function tick() {
  const size = walSize();
  const due = Date.now() - lastCheckpointAt >= workerData.intervalMs;
  // While the writers checkpoint, the worker only looks once an interval (one round) whether the log started over:
  // its checkpoints would make theirs find the checkpoint lock taken.
  const filling = !behind && size >= earlyBytes && size !== sizeAtLastCheckpoint;
  if (!due && !filling) return;
  lastCheckpointAt = Date.now();
  const frames = copyLog(behind ? 1 : workerData.passiveRounds);
  if (frames !== undefined && frames * frameBytes > earlyBytes) setBehind(true);
  else if (frames !== undefined && frames * frameBytes < earlyBytes / 2) setBehind(false);
  sizeAtLastCheckpoint = walSize();
}
// Every pollMs while the log changes; an idle log is looked at less and less often, down to once an interval.
let timer;
let delay = workerData.pollMs;
let lastSize = -1;
function poll() {
  try {
    tick();
  } catch (error) {
    parentPort.postMessage({ failed: 'checkpointing: ' + String(error && error.message) });
    database.close();
    process.exit(0);
  }
  const size = walSize();
  delay = size === lastSize ? Math.min(delay * 2, workerData.intervalMs) : workerData.pollMs;
  lastSize = size;
  timer = setTimeout(poll, delay);
}
timer = setTimeout(poll, delay);
parentPort.on('message', () => {
  clearTimeout(timer);
  try {
    copyLog(workerData.passiveRounds);
  } finally {
    database.close();
    process.exit(0);
  }
});
parentPort.postMessage({ ready: true });
`;

const require = createRequire(import.meta.url);

function checkOptions(options: BackgroundCheckpointOptions): Required<BackgroundCheckpointOptions> {
  const intervalMs = options.intervalMs ?? defaultCheckpointIntervalMs;
  const walLimitBytes = options.walLimitBytes ?? defaultWalLimitBytes;
  if (!(Number.isInteger(intervalMs) && intervalMs >= 10 && intervalMs <= 3_600_000)) {
    throw new KeelError('invalid-config', `backgroundCheckpoints.intervalMs must be an integer from 10 to 3600000 milliseconds, got ${intervalMs}.`);
  }
  if (!(Number.isInteger(walLimitBytes) && walLimitBytes >= 1024 * 1024)) {
    throw new KeelError('invalid-config', `backgroundCheckpoints.walLimitBytes must be an integer of at least 1048576 bytes, got ${walLimitBytes}.`);
  }
  return { intervalMs, walLimitBytes };
}

interface CheckpointerContext {
  readonly database: SqliteDatabase;
  /** The file's absolute path, taken when the store opened it: the process may change its working folder later. */
  readonly path: string;
  readonly settings: Required<BackgroundCheckpointOptions>;
  readonly busyTimeoutMs: number;
  state: CheckpointerState;
  failure: string | undefined;
  worker: Worker | undefined;
  watch: NodeJS.Timeout | undefined;
}

type WorkerMessage = { readonly ready: true } | { readonly failed: string } | { readonly behind: boolean };

/** Sets SQLite's automatic checkpoint on the connection, if it is still open. */
function setAutocheckpoint(database: SqliteDatabase, pages: number): void {
  if (database.open) database.pragma(`wal_autocheckpoint = ${pages}`);
}

/** SQLite's own checkpoint threshold while it helps a worker that fell behind: its default, or a quarter of a smaller limit. */
function helpingPages(database: SqliteDatabase, walLimitBytes: number): number {
  const frameBytes = (database.pragma('page_size', { simple: true }) as number) + 24;
  return Math.max(1, Math.min(sqliteAutocheckpointPages, Math.floor(walLimitBytes / 4 / frameBytes)));
}

function handBack(context: CheckpointerContext, failure: string | undefined): void {
  context.worker = undefined;
  if (context.state === 'stopped') return;
  context.state = failure === undefined ? 'stopped' : 'failed';
  context.failure = failure;
  setAutocheckpoint(context.database, sqliteAutocheckpointPages);
}

function spawn(context: CheckpointerContext): void {
  const { database, settings } = context;
  const synchronous = database.pragma('synchronous', { simple: true }) === 2 ? 'FULL' : 'NORMAL';
  const worker = new Worker(workerSource, {
    eval: true,
    execArgv: [],
    workerData: { path: context.path, driverPath: require.resolve('better-sqlite3'), synchronous, busyTimeoutMs: context.busyTimeoutMs, passiveRounds, pollMs: Math.min(settings.intervalMs, pollMs), ...settings },
    resourceLimits: { maxOldGenerationSizeMb: 32 },
  });
  context.worker = worker;
  context.state = 'starting';
  worker.on('message', (message: WorkerMessage) => {
    if (context.worker !== worker) return;
    if ('failed' in message) {
      handBack(context, message.failed);
      return;
    }
    if ('behind' in message) {
      setAutocheckpoint(database, message.behind ? helpingPages(database, settings.walLimitBytes) : 0);
      return;
    }
    context.state = 'running';
    // From here on the worker checkpoints; a commit no longer does. When the writers start the log over, the file is
    // cut back to an eighth of the limit, so that its size tells the worker when the log passes a quarter of it.
    setAutocheckpoint(database, 0);
    if (database.open) database.pragma(`journal_size_limit = ${Math.floor(settings.walLimitBytes / 8)}`);
  });
  worker.on('error', (error) => {
    if (context.worker === worker) handBack(context, `the checkpoint worker failed: ${error.message}`);
  });
  worker.on('exit', () => {
    if (context.worker === worker) handBack(context, 'the checkpoint worker exited');
  });
  worker.unref();
}

/** Whether the connection has written to the log yet: until then there is nothing to checkpoint. */
function hasWritten(path: string): boolean {
  const walPath = `${path}-wal`;
  return existsSync(walPath) && statSync(walPath).size > 0;
}

export interface CheckpointerSetup {
  /** A file in WAL mode, open for writing; a database in memory or opened read-only gets a checkpointer that does nothing. */
  readonly database: SqliteDatabase;
  readonly busyTimeoutMs: number;
  /** `true` or options: checkpoints from a worker. `false` or absent: SQLite checkpoints inside commits, as by default. */
  readonly options: BackgroundCheckpointOptions | boolean | undefined;
}

/** Starts checkpointing a database from a worker thread, once it has been written to. */
export function startBackgroundCheckpoints(setup: CheckpointerSetup): BackgroundCheckpoints {
  const { database } = setup;
  const enabled = setup.options !== undefined && setup.options !== false;
  const settings = checkOptions(typeof setup.options === 'object' ? setup.options : {});
  const context: CheckpointerContext = { database, path: resolve(database.name), settings, busyTimeoutMs: setup.busyTimeoutMs, state: 'waiting-for-writes', failure: undefined, worker: undefined, watch: undefined };
  if (!enabled || database.memory || database.readonly) context.state = 'stopped';
  else watchForWrites(context);
  return {
    get state() {
      return context.state;
    },
    get failure() {
      return context.failure;
    },
    stop: () => stopCheckpoints(context),
  };
}

function watchForWrites(context: CheckpointerContext): void {
  const { database } = context;
  context.watch = setInterval(() => {
    if (!database.open || !hasWritten(context.path)) return;
    clearInterval(context.watch);
    context.watch = undefined;
    spawn(context);
  }, context.settings.intervalMs);
  context.watch.unref();
}

async function stopCheckpoints(context: CheckpointerContext): Promise<void> {
  if (context.watch !== undefined) clearInterval(context.watch);
  context.watch = undefined;
  const worker = context.worker;
  context.state = 'stopped';
  context.worker = undefined;
  setAutocheckpoint(context.database, sqliteAutocheckpointPages);
  if (worker === undefined) return;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  // Its last checkpoint runs before it closes its connection; one that hangs is cut off.
  worker.postMessage('stop');
  const timer = setTimeout(() => void worker.terminate(), stopTimeoutMs);
  await exited;
  clearTimeout(timer);
}
