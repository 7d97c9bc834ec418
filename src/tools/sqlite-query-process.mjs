// The program of a SQLite query process (sqlite-query-pool.ts). Plain JavaScript so that it starts without a
// TypeScript loader. It runs one query at a time, each on a fresh read-only connection, and answers over the IPC
// channel. It is a process rather than a worker thread because SQLite computes inside native code that a worker's
// terminate() cannot interrupt: a recursive CTE without end never returns to JavaScript, so only killing the
// process stops it. The host does that on time-out and abort.
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

// Linux: under memory pressure the kernel kills this process first, not the host. Raising one's own score needs no privilege.
try {
  writeFileSync('/proc/self/oom_score_adj', '1000');
} catch {
  // Not Linux, or /proc is not mounted: the host's own limits apply.
}

// If the host dies while a query runs, the IPC channel's disconnect event cannot fire: the main thread is inside
// SQLite. A watchdog thread notices the host is gone (this process was re-parented) and ends the process itself.
const parentPid = process.ppid;
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads');
  setInterval(() => { if (process.ppid !== workerData.parentPid) process.kill(process.pid, 'SIGKILL'); }, 1000);`,
  { eval: true, workerData: { parentPid }, resourceLimits: { maxOldGenerationSizeMb: 8 } },
);
watchdog.unref();

/** The statement's leading keyword, for a rejection's message; a write hidden after WITH or EXPLAIN is named. */
function leadingKeyword(sql) {
  const withoutComments = sql.replace(/--[^\n]*(\n|$)/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
  const first = /[A-Za-z]+/.exec(withoutComments)?.[0]?.toUpperCase() ?? 'this statement';
  if (first !== 'WITH' && first !== 'EXPLAIN') return first;
  const write = /\b(INSERT|UPDATE|DELETE|REPLACE)\b/i.exec(withoutComments)?.[1];
  return write === undefined ? first : write.toUpperCase();
}

function jsonSafe(value) {
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return `<blob, ${value.length} bytes>`;
  return value;
}

function open(databasePath) {
  const db = new Database(databasePath, { readonly: true, fileMustExist: true });
  // Belt and braces: the connection is read-only, and SQLite refuses writes on it even if it were not.
  db.pragma('query_only = ON');
  return db;
}

function prepare(db, sql) {
  let statement;
  try {
    statement = db.prepare(sql);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/more than one statement/i.test(message)) return { reply: { ok: false, kind: 'rejected', what: 'more than one statement' } };
    return { reply: { ok: false, kind: 'sql-error', message } };
  }
  // SQLite's own verdict (sqlite3_stmt_readonly), not a keyword match: comments and CTEs cannot fool it.
  if (!statement.readonly) return { reply: { ok: false, kind: 'rejected', what: leadingKeyword(sql) } };
  if (!statement.reader) return { reply: { ok: false, kind: 'rejected', what: `${leadingKeyword(sql)} (it returns no rows)` } };
  return { statement };
}

/** Reads rows until the row limit or the byte budget; a value or a result past the budget ends the read at once. */
function collect(statement, job) {
  const columns = statement.columns().map((column) => column.name);
  const rows = [];
  let bytes = 2;
  let truncated = false;
  for (const row of statement.iterate()) {
    if (rows.length === job.maxRows) {
      truncated = true;
      break;
    }
    const safe = {};
    for (const column of columns) {
      const value = jsonSafe(row[column]);
      // Checked before serialising, so a single huge cell is measured without being copied again.
      if (typeof value === 'string' && value.length > job.maxResultBytes) {
        return { ok: false, kind: 'too-large', reason: 'value', column, bytes: value.length, rowsRead: rows.length };
      }
      safe[column] = value;
    }
    bytes += Buffer.byteLength(JSON.stringify(safe)) + 1;
    if (bytes > job.maxResultBytes) return { ok: false, kind: 'too-large', reason: 'result', bytes, rowsRead: rows.length + 1 };
    rows.push(safe);
  }
  return { ok: true, columns, rows, truncated, bytes };
}

function run(job) {
  let db;
  try {
    db = open(job.databasePath);
  } catch (error) {
    return { ok: false, kind: 'open-failed', message: error instanceof Error ? error.message : String(error) };
  }
  try {
    const prepared = prepare(db, job.sql);
    if (prepared.reply !== undefined) return prepared.reply;
    return collect(prepared.statement, job);
  } catch (error) {
    return { ok: false, kind: 'sql-error', message: error instanceof Error ? error.message : String(error) };
  } finally {
    db.close();
  }
}

process.on('message', (job) => {
  process.send({ id: job.id, ...run(job) });
});
// The host is gone (or let this process go): nothing is left to answer.
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
