import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import type { KeelCode } from '../../src/errors/index.ts';
import type { ToolContext, ToolDefinition } from '../../src/tools/define-tool.ts';
import { createIncidentDatabase } from '../../examples/incident/create-database.ts';
import { createIncidentTools } from '../../examples/incident/tools.ts';
import { createToolPipeline } from '../../src/tools/index.ts';
import { closeIdleSqliteQueryProcesses, configureSqliteQueryPool, sqliteQueryPoolStatistics } from '../../src/tools/sqlite-query-pool.ts';
import { defineSqliteQueryTool, querySqliteReadOnly } from '../../src/tools/sqlite-query-tool.ts';
import type { SqliteQueryResult, SqliteQueryToolOptions } from '../../src/tools/sqlite-query-tool.ts';

const endlessCount = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c';
// 2,000⁴ = 1.6·10¹³ combinations: hours of work.
const cartesianJoin = 'SELECT count(*) AS n FROM events a, events b, events c, events d';
const hugeCell = 'SELECT hex(randomblob(1e8)) AS v';

let directory: string;
let databasePath: string;

function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { sessionId: 'session-sql', turn: 1, callId: 'call-1', idempotencyKey: 'session-sql:1:call-1', signal };
}

function queryTool(options: Partial<SqliteQueryToolOptions> = {}): ToolDefinition {
  return defineSqliteQueryTool({ name: 'query_events', description: 'Reads the events table.', databasePath, allowedTables: ['events'], timeoutMs: 1_500, ...options });
}

/** Validates the input as the pipeline does, then runs the tool. */
async function run(tool: ToolDefinition, input: Record<string, unknown>, signal?: AbortSignal): Promise<SqliteQueryResult> {
  return (await tool.execute(tool.input.parse(input), context(signal))) as SqliteQueryResult;
}

/** Runs `work` while a 10 ms interval counts its ticks: a blocked event loop counts none. */
async function whileTicking<T>(work: (ticksSoFar: () => number) => Promise<T>): Promise<{ settled: PromiseSettledResult<T>; ticks: number }> {
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 10);
  try {
    const [settled] = await Promise.allSettled([work(() => ticks)]);
    return { settled: settled!, ticks };
  } finally {
    clearInterval(ticker);
  }
}

function expectKeelError(settled: PromiseSettledResult<unknown>, code: KeelCode, message: RegExp): void {
  expect(settled.status).toBe('rejected');
  const reason = (settled as PromiseRejectedResult).reason as unknown;
  expect(isKeelError(reason, code), String(reason)).toBe(true);
  expect((reason as Error).message).toMatch(message);
}

/** Whether `pid` still runs; a zombie (exited, not yet reaped by whoever adopted it) counts as ended. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // The state follows the parenthesised command name in /proc/<pid>/stat.
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'keel-sqlite-query-'));
  databasePath = join(directory, 'events.db');
  const db = new Database(databasePath);
  db.exec(`
    CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, payload TEXT NOT NULL);
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
    INSERT INTO events (kind, payload) SELECT CASE i % 3 WHEN 0 THEN 'deploy' WHEN 1 THEN 'error' ELSE 'page' END, 'event ' || i FROM n;
    CREATE TABLE secrets (token TEXT);
    INSERT INTO secrets VALUES ('do-not-read');
  `);
  db.close();
});

afterAll(() => {
  configureSqliteQueryPool({ maxProcesses: 2 });
  closeIdleSqliteQueryProcesses();
  rmSync(directory, { recursive: true, force: true });
});

describe('defineSqliteQueryTool', () => {
  it('returns rows for a normal query, and caps them at the limit', async () => {
    const tool = queryTool();
    expect(await run(tool, { query: 'SELECT kind, COUNT(*) AS n FROM events GROUP BY kind ORDER BY kind' })).toEqual({
      columns: ['kind', 'n'],
      rowCount: 3,
      truncated: false,
      rows: [
        { kind: 'deploy', n: 666 },
        { kind: 'error', n: 667 },
        { kind: 'page', n: 667 },
      ],
    });
    const capped = await run(tool, { query: 'SELECT id FROM events ORDER BY id', limit: 3 });
    expect(capped).toMatchObject({ rowCount: 3, truncated: true, rows: [{ id: 1 }, { id: 2 }, { id: 3 }] });
    expect(capped.note).toMatch(/first 3 rows/);
  });

  it('stops an endless recursive CTE at its time limit as tool-timeout, with the event loop free meanwhile', async () => {
    const { settled, ticks } = await whileTicking(() => run(queryTool(), { query: endlessCount }));
    expectKeelError(settled, 'tool-timeout', /did not finish within 1500 ms and was stopped\. Make it cheaper: .*add LIMIT/);
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('stops a cartesian join at its time limit as tool-timeout, with the event loop free meanwhile', async () => {
    const { settled, ticks } = await whileTicking(() => run(queryTool(), { query: cartesianJoin }));
    expectKeelError(settled, 'tool-timeout', /did not finish within 1500 ms/);
    expect(ticks).toBeGreaterThanOrEqual(5);
  });

  it('refuses a 200 MB cell as tool-result-too-large without sending it to the host, with the event loop free meanwhile', async () => {
    // Time enough for SQLite to build the value, so the byte budget, not the clock, ends the call.
    const tool = queryTool({ timeoutMs: 90_000 });
    const heapBefore = process.memoryUsage().heapUsed;
    const { settled, ticks } = await whileTicking(() => run(tool, { query: hugeCell }));
    expectKeelError(settled, 'tool-result-too-large', /^Column "v" of row 1 holds a value of 200000000 characters, more than the 1048576-byte result limit\. Narrow the query: add LIMIT/);
    expect(ticks).toBeGreaterThanOrEqual(5);
    // The value stayed in the query process: the host's heap did not take 200 MB.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50_000_000);
  });

  it('stops reading an endless row count: at the limit when rows are small, at the byte budget when they are not', async () => {
    const endlessRows = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c';
    expect(await run(queryTool(), { query: endlessRows, limit: 500 })).toMatchObject({ rowCount: 500, truncated: true });
    const wideRows = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x, printf('%.1000c', 'x') AS pad FROM c";
    const [settled] = await Promise.allSettled([run(queryTool({ maxResultBytes: 100_000 }), { query: wideRows, limit: 500 })]);
    expectKeelError(settled!, 'tool-result-too-large', /^The result passed the 100000-byte limit after \d+ of at most 500 rows\. Narrow the query/);
    const details = ((settled as PromiseRejectedResult).reason as { details: { rowsRead: number } }).details;
    expect(details.rowsRead).toBeLessThan(100);
  });

  it('kills the query process when the signal aborts, and the next query runs', async () => {
    const controller = new AbortController();
    const running = run(queryTool({ timeoutMs: 60_000 }), { query: endlessCount }, controller.signal);
    await until(() => sqliteQueryPoolStatistics().running === 1);
    const [pid] = sqliteQueryPoolStatistics().runningProcessIds;
    expect(isAlive(pid!)).toBe(true);
    const killedBefore = sqliteQueryPoolStatistics().killed;
    controller.abort(new Error('the session was cancelled'));
    await expect(running).rejects.toThrow('the session was cancelled');
    expect(isAlive(pid!)).toBe(false);
    expect(sqliteQueryPoolStatistics()).toMatchObject({ running: 0, killed: killedBefore + 1 });
    expect((await run(queryTool(), { query: 'SELECT COUNT(*) AS n FROM events' })).rows).toEqual([{ n: 2000 }]);
  });

  it('ends a query process whose host died mid-query (its main thread is inside SQLite, so a watchdog thread does it)', async () => {
    const program = fileURLToPath(new URL('../../src/tools/sqlite-query-process.mjs', import.meta.url));
    // A stand-in host: forks the query program, starts an endless query, prints the child's pid, then waits to be killed.
    const hostSource = `
      const { fork } = require('node:child_process');
      const child = fork(${JSON.stringify(program)}, [], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
      child.on('message', (message) => {
        if (!message.ready) return;
        child.send({ id: 1, databasePath: ${JSON.stringify(databasePath)}, sql: ${JSON.stringify(endlessCount)}, maxRows: 10, maxResultBytes: 1000 });
        setTimeout(() => console.log(child.pid), 200);
      });
      setInterval(() => {}, 1000);`;
    const host = spawn(process.execPath, ['-e', hostSource], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    host.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => /\d+\n/.test(output));
    const childPid = Number(output.trim());
    expect(isAlive(childPid)).toBe(true);
    host.kill('SIGKILL');
    await until(() => !isAlive(childPid));
  });

  it('queues queries past the process-wide limit; a queued query runs once the one before it is stopped', async () => {
    configureSqliteQueryPool({ maxProcesses: 1 });
    try {
      const slow = run(queryTool({ timeoutMs: 1_000 }), { query: endlessCount });
      await until(() => sqliteQueryPoolStatistics().running === 1);
      const next = run(queryTool(), { query: 'SELECT COUNT(*) AS n FROM events' });
      await until(() => sqliteQueryPoolStatistics().queued === 1);
      expect(sqliteQueryPoolStatistics().running).toBe(1);
      await expect(slow).rejects.toMatchObject({ code: 'tool-timeout' });
      expect((await next).rows).toEqual([{ n: 2000 }]);
    } finally {
      configureSqliteQueryPool({ maxProcesses: 2 });
    }
  });

  it('rejects writes at validation, and other tables and unparseable SQL before the query runs, as tool-invalid-input', async () => {
    const tool = queryTool();
    const invalid = tool.input.safeParse({ query: 'DELETE FROM events' });
    expect(invalid.success).toBe(false);
    expect(invalid.error?.issues[0]).toMatchObject({ path: ['query'], message: expect.stringMatching(/found DELETE on table events/) });
    await expect(run(tool, { query: 'SELECT token FROM secrets' })).rejects.toMatchObject({
      code: 'tool-invalid-input',
      message: 'Invalid input for "query_events": query: the query reads secrets, which is not one of the tables that may be read: events.',
    });
    await expect(run(tool, { query: 'SELECT kind FROM events WHERE' })).rejects.toMatchObject({ code: 'tool-invalid-input', message: expect.stringMatching(/could not parse the query/) });
    await expect(run(tool, { query: 'SELECT nope FROM events' })).rejects.toMatchObject({ code: 'tool-invalid-input', message: expect.stringMatching(/^SQL error: no such column: nope/) });
  });

  it("rejects at validation what an earlier call's parse rejected: the verdict is cached", async () => {
    const tool = queryTool();
    expect(tool.input.safeParse({ query: 'SELECT kind FROM secrets, events' }).success).toBe(true);
    await expect(run(tool, { query: 'SELECT kind FROM secrets, events' })).rejects.toMatchObject({ code: 'tool-invalid-input' });
    const again = tool.input.safeParse({ query: 'SELECT kind FROM secrets, events' });
    expect(again.error?.issues[0]).toMatchObject({ path: ['query'], message: expect.stringMatching(/^the query reads secrets/) });
  });

  it('runs only what SQLite reports as read-only and row-returning, on a read-only connection, even without the guard', async () => {
    const signal = new AbortController().signal;
    const raw = (query: string) => querySqliteReadOnly({ name: 'query_events', databasePath }, { query, limit: 10, signal });
    await expect(raw('DELETE FROM events')).rejects.toMatchObject({ code: 'tool-invalid-input', message: expect.stringMatching(/DELETE is not permitted/) });
    await expect(raw('SELECT 1; DELETE FROM events')).rejects.toThrow(/more than one statement is not permitted/);
    await expect(raw("ATTACH DATABASE ':memory:' AS other")).rejects.toThrow(/returns no rows/);
    expect((await raw('SELECT COUNT(*) AS n FROM events')).rows).toEqual([{ n: 2000 }]);
    await expect(querySqliteReadOnly({ name: 'query_events', databasePath: join(directory, 'missing.db') }, { query: 'SELECT 1', limit: 1, signal })).rejects.toMatchObject({
      code: 'tool-failed',
      message: expect.stringMatching(/cannot be opened/),
    });
  });

  it('reports a time-out through the tool pipeline as the call outcome', async () => {
    const tool = queryTool({ timeoutMs: 500 });
    const outcome = await createToolPipeline().execute({
      sessionId: 'session-sql',
      turn: 1,
      callId: 'call-1',
      idempotencyKey: 'session-sql:1:call-1',
      agent: { name: 'analyst', scopes: [] },
      tool,
      input: tool.input.parse({ query: endlessCount }),
      signal: new AbortController().signal,
      decision: { decision: 'allow', rule: 'default', reason: 'test' },
      approval: null,
    });
    expect(outcome).toMatchObject({ ok: false, error: { code: 'tool-timeout' } });
  });

  it('refuses invalid options as invalid-config', () => {
    expect(() => queryTool({ maxRows: 0 })).toThrow(/maxRows must be a positive integer/);
    expect(() => queryTool({ defaultRows: 600 })).toThrow(/defaultRows \(600\) must not exceed maxRows \(500\)/);
    expect(() => configureSqliteQueryPool({ maxProcesses: 0 })).toThrow(/maxProcesses must be a positive integer/);
  });
});

describe("the incident example's query_database", () => {
  it('runs off the event loop: an endless query is stopped by its abort signal while a 10 ms interval keeps ticking', async () => {
    const incidentPath = join(directory, 'incident.db');
    createIncidentDatabase(incidentPath);
    const tool = createIncidentTools(incidentPath, join(directory, 'reports')).find((candidate) => candidate.name === 'query_database')!;
    const controller = new AbortController();
    const { settled, ticks } = await whileTicking(async (ticksSoFar) => {
      const running = run(tool, { query: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c' }, controller.signal);
      await until(() => sqliteQueryPoolStatistics().running === 1);
      // With the query in flight, the interval keeps ticking (the old tool ran it on this thread: no tick, no end).
      const atStart = ticksSoFar();
      await until(() => ticksSoFar() >= atStart + 5);
      controller.abort(new Error('investigation cancelled'));
      return running;
    });
    expect(settled).toMatchObject({ status: 'rejected', reason: new Error('investigation cancelled') });
    expect(ticks).toBeGreaterThanOrEqual(5);
    expect((await run(tool, { query: 'SELECT COUNT(*) AS n FROM services' })).rows).toEqual([{ n: 8 }]);
  });
});
