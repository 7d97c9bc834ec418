// What defineSqliteQueryTool costs and what it buys: the latency of a cheap query through the tool (guard, parse
// cache, query process, IPC) beside the same query on the main thread, and how free the event loop stays while a
// hostile query or a hostile parse runs. Run: npx tsx bench/sqlite-query-tool.ts
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeIdleSqliteQueryProcesses } from '../src/tools/sqlite-query-pool.ts';
import { defineSqliteQueryTool } from '../src/tools/sqlite-query-tool.ts';
import { createReadOnlySqlChecker } from '../src/tools/validators/sql-read-only.ts';

const cheapQuery = "SELECT kind, COUNT(*) AS n FROM events WHERE kind = 'error' GROUP BY kind";
const iterations = 300;

function percentile(samples: number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]!;
}

async function latency(call: () => unknown): Promise<{ medianMs: number; p95Ms: number }> {
  for (let index = 0; index < 20; index++) await call();
  const samples: number[] = [];
  for (let index = 0; index < iterations; index++) {
    const started = performance.now();
    await call();
    samples.push(performance.now() - started);
  }
  return { medianMs: percentile(samples, 0.5), p95Ms: percentile(samples, 0.95) };
}

/** Ticks of a 10 ms interval and the longest gap between two ticks while `work` runs. */
async function eventLoop(work: () => Promise<unknown>): Promise<{ wallMs: number; ticks: number; longestGapMs: number }> {
  let ticks = 0;
  let last = performance.now();
  let longestGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  const started = performance.now();
  await work().catch(() => undefined);
  clearInterval(ticker);
  return { wallMs: performance.now() - started, ticks, longestGapMs };
}

const round = (value: number): number => Math.round(value * 100) / 100;

const directory = mkdtempSync(join(tmpdir(), 'keel-bench-sqlite-'));
try {
  const databasePath = join(directory, 'events.db');
  const setup = new Database(databasePath);
  setup.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, payload TEXT);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
    INSERT INTO events (kind, payload) SELECT CASE i % 3 WHEN 0 THEN 'deploy' WHEN 1 THEN 'error' ELSE 'page' END, 'event ' || i FROM n;
    CREATE INDEX events_kind ON events (kind);`);
  setup.close();

  const tool = defineSqliteQueryTool({ name: 'query_events', description: 'bench', databasePath, timeoutMs: 2_000 });
  const context = { sessionId: 's', turn: 1, callId: 'c', idempotencyKey: 'k', signal: new AbortController().signal };
  const viaTool = await latency(() => tool.execute(tool.input.parse({ query: cheapQuery }), context));
  const onMainThread = await latency(() => {
    const db = new Database(databasePath, { readonly: true, fileMustExist: true });
    try {
      return db.prepare(cheapQuery).all();
    } finally {
      db.close();
    }
  });
  console.log('cheap query, warm (median / p95 ms)');
  console.log(`  through defineSqliteQueryTool: ${round(viaTool.medianMs)} / ${round(viaTool.p95Ms)}`);
  console.log(`  better-sqlite3 on the main thread: ${round(onMainThread.medianMs)} / ${round(onMainThread.p95Ms)}`);

  const endless = await eventLoop(() => Promise.resolve(tool.execute(tool.input.parse({ query: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c' }), context)));
  console.log(`endless recursive CTE (2,000 ms limit): ${round(endless.wallMs)} ms, ${endless.ticks} ticks of 10 ms, longest gap ${round(endless.longestGapMs)} ms`);

  const checker = createReadOnlySqlChecker({ dialect: 'sqlite', parseTimeoutMs: 1_000 });
  const hostile = `SELECT ${'CAST('.repeat(8)}x FROM${' AS INT)'.repeat(8)}`;
  const parse = await eventLoop(() => checker.check(hostile));
  console.log(`hostile parse (1,000 ms limit): ${round(parse.wallMs)} ms, ${parse.ticks} ticks of 10 ms, longest gap ${round(parse.longestGapMs)} ms`);
  const cached = await latency(() => checker.check(hostile));
  console.log(`  the same text again, from the cache: ${round(cached.medianMs * 1000)} µs median; parses: ${checker.statistics.parses}`);
} finally {
  closeIdleSqliteQueryProcesses();
  rmSync(directory, { recursive: true, force: true });
}
