import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ToolContext, ToolDefinition } from '../../src/tools/define-tool.ts';
import { createToolPipeline } from '../../src/tools/index.ts';
import { querySqliteReadOnly } from '../../src/tools/sqlite-query-tool.ts';
import type { ToolUseBlock } from '../../src/spec/message.ts';
import { createIncidentDatabase, defaultIncidentSeed, incidentTimeline } from './create-database.ts';
import { createIncidentTools, incidentTableNames, reportFileName } from './tools.ts';

interface ScriptedBlock {
  readonly type: string;
  readonly text?: string;
  readonly id?: string;
  readonly name?: string;
  readonly input?: Record<string, unknown>;
}
interface ScriptedMessage {
  readonly id: string;
  readonly type: string;
  readonly role: string;
  readonly model: string;
  readonly content: readonly ScriptedBlock[];
  readonly stop_reason: string;
  readonly usage: { readonly input_tokens: number; readonly output_tokens: number };
}
type Row = Record<string, unknown>;
interface QueryResult { readonly columns: string[]; readonly rowCount: number; readonly truncated: boolean; readonly note?: string; readonly rows: Row[] }
interface MetricsResult { readonly samples: number; readonly min: number; readonly minAt: string; readonly max: number; readonly maxAt: string; readonly avg: number; readonly last: { ts: string; value: number } }

const script = JSON.parse(readFileSync(new URL('./model.json', import.meta.url), 'utf8')) as ScriptedMessage[];
const toolCalls = script.flatMap((message, turn) => message.content.filter((block) => block.type === 'tool_use').map((block) => ({ turn, block })));
const isDestructive = (block: ScriptedBlock) => block.name === 'query_database' && /^\s*DELETE\b/i.test(String(block.input?.query));
const timeline = incidentTimeline();

let directory: string;
let databasePath: string;
let reportDirectory: string;
let tools: Map<string, ToolDefinition>;

function context(overrides: Partial<ToolContext> = {}): ToolContext {
  return { sessionId: 'session-test', turn: 1, callId: 'call-1', idempotencyKey: 'session-test:1:call-1', signal: new AbortController().signal, ...overrides };
}

async function run(name: string, input: unknown, overrides: Partial<ToolContext> = {}): Promise<unknown> {
  const tool = tools.get(name);
  if (tool === undefined) throw new Error(`no tool ${name}`);
  return tool.execute(tool.input.parse(input), context(overrides));
}

/** The issues the tool's input schema reports, as `field: message`; empty if the input is valid. */
function validationIssues(name: string, input: unknown): string[] {
  const result = tools.get(name)!.input.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

/**
 * Runs the tool as if validation had been bypassed: only the runtime layer stands. For query_database that is
 * SQLite's own verdict on a read-only connection, without the SQL guard (which its execute runs first).
 */
async function runUnvalidated(name: string, input: Record<string, unknown>, overrides: Partial<ToolContext> = {}): Promise<unknown> {
  const { signal } = context(overrides);
  if (name === 'query_database') return querySqliteReadOnly({ name, databasePath }, { query: String(input.query), limit: Number(input.limit ?? 100), signal });
  const tool = tools.get(name)!;
  return tool.execute({ limit: 100, ...input }, context(overrides));
}

function tableCounts(path: string): Record<string, number> {
  const db = new Database(path, { readonly: true });
  try {
    const counts: Record<string, number> = {};
    for (const table of ['services', 'deploys', 'error_logs', 'metrics']) counts[table] = (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    return counts;
  } finally {
    db.close();
  }
}

function checksum(path: string): string {
  const db = new Database(path, { readonly: true });
  try {
    const hash = createHash('sha256');
    for (const [table, order] of [['services', 'name'], ['deploys', 'id'], ['error_logs', 'id'], ['metrics', 'service, metric, ts']] as const) {
      for (const row of db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).iterate()) hash.update(`${table}:${JSON.stringify(row)}\n`);
    }
    return hash.digest('hex');
  } finally {
    db.close();
  }
}

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), 'keel-incident-'));
  databasePath = join(directory, 'incident.db');
  reportDirectory = join(directory, 'reports');
  createIncidentDatabase(databasePath);
  tools = new Map(createIncidentTools(databasePath, reportDirectory).map((tool) => [tool.name, tool]));
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('the incident database', () => {
  it('holds a realistic six-hour window', () => {
    const counts = tableCounts(databasePath);
    expect(counts.services).toBe(8);
    expect(counts.deploys).toBeGreaterThanOrEqual(8);
    expect(counts.error_logs).toBeGreaterThan(2_000);
    expect(counts.error_logs).toBeLessThan(10_000);
    // Eight services × 360 minutes × 3 or 4 metrics.
    expect(counts.metrics).toBe(8 * 360 * 3 + 5 * 360);
    const db = new Database(databasePath, { readonly: true });
    try {
      const window = db.prepare('SELECT MIN(ts) AS first, MAX(ts) AS last FROM metrics').get() as { first: string; last: string };
      expect(window).toEqual({ first: timeline.windowStart, last: '2025-03-14T14:14:00Z' });
      const perService = db.prepare("SELECT COUNT(DISTINCT service) AS n FROM error_logs WHERE ts < ?").get(timeline.rootCauseDeployAt) as { n: number };
      expect(perService.n).toBe(8);
      const badTimestamps = db.prepare("SELECT COUNT(*) AS n FROM error_logs WHERE ts NOT GLOB '2025-03-1[0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z'").get() as { n: number };
      expect(badTimestamps.n).toBe(0);
    } finally {
      db.close();
    }
  });

  it('is deterministic: the same seed gives the same rows, another seed other rows', () => {
    const again = join(directory, 'again.db');
    const other = join(directory, 'other.db');
    createIncidentDatabase(again, { seed: defaultIncidentSeed });
    createIncidentDatabase(other, { seed: defaultIncidentSeed + 1 });
    expect(tableCounts(again)).toEqual(tableCounts(databasePath));
    expect(checksum(again)).toBe(checksum(databasePath));
    expect(checksum(other)).not.toBe(checksum(databasePath));
  });

  it('shifts the whole scenario with `now`', () => {
    const shifted = join(directory, 'shifted.db');
    const now = Date.parse('2026-01-02T03:04:00Z');
    createIncidentDatabase(shifted, { now });
    const db = new Database(shifted, { readonly: true });
    try {
      const rootCause = db.prepare("SELECT deployed_at FROM deploys WHERE version = 'v2.14.0'").get() as { deployed_at: string };
      expect(rootCause.deployed_at.slice(0, 16)).toBe(incidentTimeline(now).rootCauseDeployAt.slice(0, 16));
    } finally {
      db.close();
    }
  });

  it("keeps the red herring's metrics flat across its deploy", () => {
    const db = new Database(databasePath, { readonly: true });
    const at = Date.parse(timeline.redHerringDeployAt);
    const before = new Date(at - 30 * 60_000).toISOString();
    try {
      const stats = (metric: string, from: string, to: string) =>
        db.prepare("SELECT AVG(value) AS avg, MAX(value) AS max FROM metrics WHERE service = 'frontend-web' AND metric = ? AND ts >= ? AND ts < ?").get(metric, from, to) as { avg: number; max: number };
      for (const metric of ['error_rate', 'p99_latency_ms', 'cpu_pct']) {
        const earlier = stats(metric, before, timeline.redHerringDeployAt);
        const later = stats(metric, timeline.redHerringDeployAt, timeline.now);
        expect(Math.abs(later.avg - earlier.avg) / earlier.avg, metric).toBeLessThan(0.15);
      }
      expect(stats('error_rate', timeline.redHerringDeployAt, timeline.now).max).toBeLessThan(1);
      // …while the planted cause is anything but flat.
      const payments = db.prepare("SELECT MAX(value) AS max FROM metrics WHERE service = 'payments-api' AND metric = 'error_rate' AND ts >= ?").get(timeline.spikeAt) as { max: number };
      expect(payments.max).toBeGreaterThan(15);
      const firstOverThreshold = db.prepare("SELECT MIN(ts) AS ts FROM metrics WHERE service = 'payments-api' AND metric = 'error_rate' AND value > 5").get() as { ts: string };
      expect(firstOverThreshold.ts).toBe(timeline.spikeAt);
    } finally {
      db.close();
    }
  });
});

describe('the scripted model (model.json)', () => {
  it('is a list of Anthropic assistant messages ending in a final answer', () => {
    expect(script.length).toBeGreaterThanOrEqual(8);
    expect(script.length).toBeLessThanOrEqual(12);
    for (const message of script) {
      expect(message).toMatchObject({ type: 'message', role: 'assistant', model: 'claude-sonnet-4-5' });
      expect(message.id).toMatch(/^msg_01/);
      const uses = message.content.filter((block) => block.type === 'tool_use');
      expect(message.stop_reason).toBe(uses.length > 0 ? 'tool_use' : 'end_turn');
      expect(message.content[0]?.type).toBe('text');
    }
    expect(script.at(-1)?.stop_reason).toBe('end_turn');
    expect(script.filter((message) => message.content.filter((block) => block.type === 'tool_use').length > 1)).toHaveLength(1);
    const ids = toolCalls.map(({ block }) => block.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^toolu_01[A-Za-z0-9]{22}$/);
    expect(toolCalls.filter(({ block }) => isDestructive(block))).toHaveLength(1);
    expect(toolCalls.filter(({ block }) => block.name === 'write_report')).toHaveLength(1);
  });

  it('has usage that grows with the context', () => {
    for (let index = 1; index < script.length; index++) {
      const previous = script[index - 1]!.usage;
      const current = script[index]!.usage;
      expect(current.input_tokens).toBeGreaterThan(previous.input_tokens + previous.output_tokens);
    }
    for (const message of script) expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('acknowledges the rejected query in the next message', () => {
    const turn = toolCalls.find(({ block }) => isDestructive(block))!.turn;
    expect(script[turn + 1]?.content[0]?.text).toMatch(/rejected/i);
    expect(script[turn + 1]?.content[0]?.text).toMatch(/read-only/i);
  });
});

describe("model.json's calls against the real tools", () => {
  it('every scripted input passes its tool schema, the SQL guard included, except the destructive one', () => {
    for (const { block } of toolCalls) {
      const tool = tools.get(block.name!);
      expect(tool, block.name).toBeDefined();
      if (isDestructive(block)) continue;
      expect(validationIssues(block.name!, block.input), JSON.stringify(block.input)).toEqual([]);
    }
  });

  it('rejects the scripted DELETE at validation, on the query field, with a reason the model can act on', () => {
    const { block } = toolCalls.find(({ block }) => isDestructive(block))!;
    expect(validationIssues(block.name!, block.input)).toEqual([
      'query: only a single read-only SELECT is accepted; found DELETE on table error_logs. ' +
        'The incident database is read-only evidence: narrow results with WHERE, GROUP BY and LIMIT instead of changing or deleting rows',
    ]);
  });

  it('is denied by the tool pipeline as tool-invalid-input before execution', async () => {
    const { block } = toolCalls.find(({ block }) => isDestructive(block))!;
    const decision = await createToolPipeline().decide({
      sessionId: 'session-test',
      turn: 5,
      idempotencyKey: `script:${block.id}`,
      agent: { name: 'incident-investigator', scopes: ['incident-db:read', 'reports:write'] },
      call: block as ToolUseBlock,
      tool: tools.get(block.name!),
      availableTools: [...tools.keys()],
      signal: new AbortController().signal,
    });
    expect(decision).toMatchObject({ decision: 'deny', rule: 'schema' });
    expect(decision.error?.code).toBe('tool-invalid-input');
    expect(decision.error?.fault).toBe('model');
    expect(decision.error?.message).toMatch(/^Invalid input for "query_database": query: only a single read-only SELECT is accepted; found DELETE on table error_logs\. .*read-only evidence/);
  });

  it('every call succeeds with non-empty results, except the destructive one, which the runtime check still rejects when validation is bypassed', async () => {
    for (const [index, { block }] of toolCalls.entries()) {
      const callContext = { turn: index + 1, callId: block.id!, idempotencyKey: `script:${block.id}` };
      if (isDestructive(block)) {
        const before = tableCounts(databasePath);
        const checksumBefore = checksum(databasePath);
        await expect(run(block.name!, block.input, callContext)).rejects.toThrow(/found DELETE on table error_logs/);
        // Defense in depth: with the input guard out of the way, SQLite's own read-only verdict stops it.
        await expect(runUnvalidated(block.name!, block.input!, callContext)).rejects.toThrow(/read-only/);
        await expect(runUnvalidated(block.name!, block.input!, callContext)).rejects.toThrow(/DELETE is not permitted/);
        expect(tableCounts(databasePath)).toEqual(before);
        expect(checksum(databasePath)).toBe(checksumBefore);
        continue;
      }
      const result = (await run(block.name!, block.input, callContext)) as Record<string, unknown>;
      switch (block.name) {
        case 'list_services':
          expect((result.services as unknown[]).length).toBeGreaterThan(0);
          break;
        case 'recent_deploys':
          expect(result.count).toBeGreaterThan(0);
          break;
        case 'query_database':
          expect((result as unknown as QueryResult).rows.length, String(block.input?.query)).toBeGreaterThan(0);
          expect((result as unknown as QueryResult).truncated).toBe(false);
          break;
        case 'get_metrics':
          expect(result.samples).toBeGreaterThan(0);
          break;
        case 'write_report':
          expect(result.created).toBe(true);
          expect(existsSync(String(result.path))).toBe(true);
          break;
        default:
          throw new Error(`unexpected tool ${block.name}`);
      }
    }
  });

  it('returns the facts the narrative relies on', async () => {
    const call = (predicate: (block: ScriptedBlock) => boolean) => {
      const found = toolCalls.find(({ block }) => predicate(block));
      if (found === undefined) throw new Error('scripted call not found');
      return run(found.block.name!, found.block.input);
    };
    const query = (fragment: string) => call((block) => block.name === 'query_database' && String(block.input?.query).includes(fragment)) as Promise<QueryResult>;
    const metrics = (service: string, metric: string) =>
      call((block) => block.name === 'get_metrics' && block.input?.service === service && block.input.metric === metric) as Promise<MetricsResult>;

    const deploys = (await call((block) => block.name === 'recent_deploys')) as { deploys: Row[] };
    expect(deploys.deploys.map((deploy) => `${deploy.service}@${deploy.version}@${deploy.deployed_at}`)).toEqual([
      'frontend-web@v5.8.0@2025-03-14T13:35:04Z',
      'inventory-service@v2.14.0@2025-03-14T13:28:02Z',
      'payments-api@v9.4.1@2025-03-14T12:47:16Z',
      'api-gateway@v2.31.4@2025-03-14T12:02:39Z',
    ]);
    expect(deploys.deploys[1]?.change_summary).toContain('db.pool.max=5');

    // Hypothesis A (frontend) against the logs: errors grow below the frontend, not in it.
    const byService = Object.fromEntries((await query('errors_1305_to_1335')).rows.map((row) => [row.service, [row.errors_1305_to_1335, row.errors_1335_to_1405]]));
    expect(byService).toMatchObject({
      'frontend-web': [6, 7],
      'inventory-service': [2, 263],
      'checkout-service': [2, 243],
      'payments-api': [4, 128],
      'api-gateway': [10, 121],
    });

    // …and against its metrics: flat, highest before its deploy.
    const frontend = await metrics('frontend-web', 'error_rate');
    expect(frontend).toMatchObject({ min: 0.147, max: 0.619, maxAt: '2025-03-14T13:17:00Z', avg: 0.39 });

    // Hypothesis C (payments' own deploy) against payments' errors: they are inventory failures.
    const payments = (await query("p.service = 'payments-api'")).rows;
    expect(payments[0]).toMatchObject({ kind: 'capture aborted', n: 167, same_trace_inventory_error: 167, first_seen: '2025-03-14T13:38:45Z' });
    expect(payments[1]).toMatchObject({ kind: 'stripe webhook signature verification failed', n: 13, first_seen: '2025-03-14T13:00:23Z', same_trace_inventory_error: 0 });

    // Hypothesis B: the pool went from 50 to 5, then slow acquires, then exhaustion, before payments failed.
    const inventory = Object.fromEntries((await query("WHERE service = 'inventory-service'")).rows.map((row) => [row.kind, row]));
    expect(inventory['db pool stats']).toMatchObject({ n: 6, last_seen: '2025-03-14T13:25:02Z' });
    expect(inventory['db pool stats']?.example).toContain('max=50');
    expect(inventory['db-client 3.2.0 initialised']).toMatchObject({ n: 6, first_seen: '2025-03-14T13:29:36Z', last_seen: '2025-03-14T13:35:14Z' });
    expect(inventory['db-client 3.2.0 initialised']?.example).toContain('max=5 ');
    expect(inventory['db-client']).toMatchObject({ level: 'warn', n: 76, first_seen: '2025-03-14T13:32:09Z' });
    expect(inventory['connection pool exhausted']).toMatchObject({ level: 'error', n: 342, first_seen: '2025-03-14T13:37:15Z' });
    expect(String(inventory['connection pool exhausted']?.first_seen) < String(payments[0]?.first_seen)).toBe(true);
    expect(String(payments[0]?.first_seen) < timeline.spikeAt).toBe(true);

    // The parallel turn: inventory pinned at its new maximum, payments' own database normal.
    const inventoryConnections = await metrics('inventory-service', 'db_connections');
    expect(inventoryConnections).toMatchObject({ min: 5, minAt: '2025-03-14T13:36:00Z', max: 30, maxAt: '2025-03-14T13:02:00Z', last: { value: 5 } });
    const paymentsConnections = await metrics('payments-api', 'db_connections');
    expect(paymentsConnections).toMatchObject({ min: 6, max: 14, avg: 10.07 });
  });
});

describe('query_database', () => {
  const query = (sql: string, limit?: number) => run('query_database', limit === undefined ? { query: sql } : { query: sql, limit }) as Promise<QueryResult>;

  // Each statement is stopped twice, independently: by the input guard (a parser, at validation) and, with
  // validation bypassed, by the runtime check (SQLite's own read-only verdict).
  it.each([
    ["DELETE FROM error_logs WHERE level = 'debug'", /found DELETE on table error_logs/, /DELETE is not permitted/],
    ["UPDATE deploys SET author = 'nobody'", /found UPDATE on table deploys/, /UPDATE is not permitted/],
    ['DROP TABLE metrics', /found DROP TABLE on table metrics/, /DROP is not permitted/],
    ["INSERT INTO services VALUES ('x', 'y', 1, NULL)", /found INSERT on table services/, /INSERT is not permitted/],
    ['WITH doomed AS (SELECT id FROM error_logs) DELETE FROM error_logs WHERE id IN (SELECT id FROM doomed)', /found WITH … DELETE on table error_logs/, /DELETE is not permitted/],
    ['SELECT 1; DELETE FROM error_logs', /found 2 statements \(SELECT; DELETE\)/, /more than one statement is not permitted/],
    ["ATTACH DATABASE 'elsewhere.db' AS elsewhere", /found ATTACH/, /returns no rows/],
    ['BEGIN IMMEDIATE', /found BEGIN/, /not permitted/],
    ['PRAGMA journal_mode = WAL', /found PRAGMA/, /PRAGMA is not permitted/],
  ])('rejects %s at validation and at run time', async (sql, guardMessage, runtimeMessage) => {
    const before = checksum(databasePath);
    const issues = validationIssues('query_database', { query: sql });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^query: only a single read-only SELECT is accepted; /);
    expect(issues[0]).toMatch(guardMessage);
    await expect(query(sql)).rejects.toThrow(guardMessage);
    await expect(runUnvalidated('query_database', { query: sql })).rejects.toThrow(runtimeMessage);
    await expect(runUnvalidated('query_database', { query: sql })).rejects.toThrow(/only a single read-only SELECT/);
    expect(checksum(databasePath)).toBe(before);
  });

  it('allows reads, including CTEs, trailing semicolons and table-valued pragma functions', async () => {
    expect((await query('SELECT COUNT(*) AS n FROM services;')).rows).toEqual([{ n: 8 }]);
    expect((await query('WITH s AS (SELECT name FROM services WHERE tier = 1) SELECT COUNT(*) AS n FROM s')).rows).toEqual([{ n: 5 }]);
    expect((await query("SELECT name FROM pragma_table_info('deploys')")).rows.map((row) => row.name)).toContain('change_summary');
  });

  it('rejects PRAGMA statements at validation with a read alternative; the runtime layer alone allows read-only ones', async () => {
    expect(validationIssues('query_database', { query: 'PRAGMA table_info(deploys)' })).toEqual([
      "query: only a single read-only SELECT is accepted; found PRAGMA. PRAGMA statements are not accepted (some change the database). To list a table's columns, use SELECT name, type FROM pragma_table_info('table')",
    ]);
    const bypassed = (await runUnvalidated('query_database', { query: 'PRAGMA table_info(deploys)' })) as QueryResult;
    expect(bypassed.rows.map((row) => row.name)).toContain('change_summary');
  });

  it('reads only the incident tables: the guard rejects others, which the runtime layer alone would read', async () => {
    for (const table of incidentTableNames) expect(validationIssues('query_database', { query: `SELECT COUNT(*) FROM ${table}` })).toEqual([]);
    // Tables are known once the query is parsed, which the tool does off the event loop before it runs anything.
    await expect(query('SELECT name, sql FROM sqlite_master')).rejects.toThrow(
      'Invalid input for "query_database": query: the query reads sqlite_master, which is not one of the tables that may be read: services, deploys, error_logs, metrics.',
    );
    await expect(query("SELECT * FROM pragma_table_info('sqlite_master')")).rejects.toMatchObject({ code: 'tool-invalid-input', message: expect.stringMatching(/reads sqlite_master/) });
    expect(((await runUnvalidated('query_database', { query: 'SELECT name FROM sqlite_master' })) as QueryResult).rows.length).toBeGreaterThan(0);
  });

  it('rejects side-effecting functions at validation, and SQL it cannot parse before the query runs', async () => {
    expect(validationIssues('query_database', { query: "SELECT load_extension('/tmp/evil')" })[0]).toMatch(/load_extension\(\) is not allowed/);
    await expect(query('SELECT service FROM error_logs WHERE')).rejects.toThrow(/^Invalid input for "query_database": query: could not parse the query as SQLite SQL at the end of the query/);
  });

  it('caps rows at the limit and says so', async () => {
    const capped = await query('SELECT id, ts FROM error_logs ORDER BY id', 7);
    expect(capped).toMatchObject({ rowCount: 7, truncated: true });
    expect(capped.note).toMatch(/first 7 rows/);
    const defaulted = await query('SELECT id FROM error_logs');
    expect(defaulted).toMatchObject({ rowCount: 100, truncated: true });
    const exact = await query('SELECT name FROM services', 8);
    expect(exact).toMatchObject({ rowCount: 8, truncated: false });
    expect(exact.note).toBeUndefined();
    expect(tools.get('query_database')!.input.safeParse({ query: 'SELECT 1', limit: 501 }).success).toBe(false);
  });

  it('reports SQL errors with what is allowed', async () => {
    await expect(query('SELECT nope FROM services')).rejects.toThrow(/SQL error: no such column: nope.*error_logs\(/s);
  });

  it('respects an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const tool = tools.get('query_database')!;
    await expect(Promise.resolve().then(() => tool.execute({ query: 'SELECT 1', limit: 10 }, context({ signal: controller.signal })))).rejects.toThrow();
  });

  it('names a missing database', async () => {
    const [missing] = createIncidentTools(join(directory, 'missing.db'), reportDirectory).filter((tool) => tool.name === 'query_database');
    await expect(Promise.resolve().then(() => missing!.execute({ query: 'SELECT 1', limit: 1 }, context()))).rejects.toThrow(/cannot be opened/);
  });
});

describe('get_metrics and recent_deploys', () => {
  it('validate their inputs', () => {
    const metrics = tools.get('get_metrics')!.input;
    expect(metrics.safeParse({ service: 'payments-api', metric: 'error_rate', from: '2025-03-14T13:00:00Z', to: '2025-03-14T14:00:00Z' }).success).toBe(true);
    expect(metrics.safeParse({ service: 'payments', metric: 'error_rate', from: '2025-03-14T13:00:00Z', to: '2025-03-14T14:00:00Z' }).success).toBe(false);
    expect(metrics.safeParse({ service: 'payments-api', metric: 'errors', from: '2025-03-14T13:00:00Z', to: '2025-03-14T14:00:00Z' }).success).toBe(false);
    expect(metrics.safeParse({ service: 'payments-api', metric: 'error_rate', from: 'yesterday', to: '2025-03-14T14:00:00Z' }).success).toBe(false);
  });

  it('normalise timestamps with offsets and downsample to at most 30 points', async () => {
    const result = (await run('get_metrics', { service: 'inventory-service', metric: 'db_connections', from: '2025-03-14T10:15:00+01:00', to: '2025-03-14T14:15:00Z' })) as MetricsResult & { from: string; points: unknown[]; bucketMinutes: number };
    expect(result.from).toBe('2025-03-14T09:15:00Z');
    expect(result.samples).toBe(300);
    expect(result.bucketMinutes).toBe(10);
    expect(result.points.length).toBeLessThanOrEqual(30);
  });

  it('say when there is no data', async () => {
    const result = (await run('get_metrics', { service: 'frontend-web', metric: 'db_connections', from: '2025-03-14T13:00:00Z', to: '2025-03-14T14:00:00Z' })) as { samples: number; note: string };
    expect(result.samples).toBe(0);
    expect(result.note).toMatch(/no database/);
  });

  it('filter deploys by service', async () => {
    const result = (await run('recent_deploys', { service: 'inventory-service' })) as { deploys: Row[] };
    expect(result.deploys.map((deploy) => deploy.version)).toEqual(['v2.14.0', 'v2.13.2']);
  });
});

describe('write_report', () => {
  const report = { title: 'Pool exhausted', rootCause: 'db.pool.max=5', evidence: ['inventory db_connections pinned at 5'], remediation: ['roll back'] };

  it('is idempotent at its far end: the same key writes once and returns the same path', async () => {
    const key = 'session-a:9:toolu_01abc';
    const first = (await run('write_report', report, { idempotencyKey: key })) as { path: string; created: boolean };
    expect(first.created).toBe(true);
    expect(first.path).toBe(join(reportDirectory, reportFileName(key)));
    const content = readFileSync(first.path, 'utf8');
    expect(content).toContain('# Pool exhausted');
    expect(content).toContain(key);

    const retried = (await run('write_report', { ...report, title: 'A different title on retry' }, { idempotencyKey: key })) as { path: string; created: boolean };
    expect(retried).toMatchObject({ path: first.path, created: false });
    expect(readFileSync(first.path, 'utf8')).toBe(content);

    const racing = await Promise.all([1, 2, 3].map(() => run('write_report', report, { idempotencyKey: 'session-b:1:toolu_race' }) as Promise<{ created: boolean }>));
    expect(racing.filter((result) => result.created)).toHaveLength(1);

    const other = (await run('write_report', report, { idempotencyKey: 'session-a:10:toolu_02def' })) as { path: string; created: boolean };
    expect(other.created).toBe(true);
    expect(other.path).not.toBe(first.path);
    expect(readdirSync(reportDirectory).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('the agent module', () => {
  it('reads its paths from the environment and builds the database once', async () => {
    const agentDirectory = join(directory, 'agent');
    process.env.KEEL_INCIDENT_DB = join(agentDirectory, 'incident.db');
    process.env.KEEL_INCIDENT_REPORTS = join(agentDirectory, 'reports');
    try {
      const module = await import('./agent.ts');
      expect(module.incidentDatabasePath).toBe(process.env.KEEL_INCIDENT_DB);
      expect(existsSync(process.env.KEEL_INCIDENT_DB)).toBe(true);
      const built = checksum(process.env.KEEL_INCIDENT_DB);
      module.ensureIncidentDatabase();
      expect(checksum(process.env.KEEL_INCIDENT_DB)).toBe(built);
      expect(built).toBe(checksum(databasePath));
      const agent = module.default;
      expect(agent.name).toBe('incident-investigator');
      expect([...agent.tools.keys()].sort()).toEqual(['get_metrics', 'list_services', 'query_database', 'recent_deploys', 'write_report']);
      expect(agent.tools.get('query_database')).toMatchObject({ risk: 'read', scopes: ['incident-db:read'] });
      expect(agent.tools.get('write_report')).toMatchObject({ risk: 'write', scopes: ['reports:write'] });
      expect(agent.limits).toMatchObject({ maxTurns: 20, maxCostUsd: 2 });
      expect(agent.defaultTask).toContain('payments-api');
      expect(agent.instructions).toMatch(/hypothes/i);
    } finally {
      delete process.env.KEEL_INCIDENT_DB;
      delete process.env.KEEL_INCIDENT_REPORTS;
    }
  });
});
