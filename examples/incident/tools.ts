/**
 * Tools of the incident investigator. Four read the incident database, opened read-only for every call;
 * one writes the report, idempotently at its far end. `query_database` is a
 * `defineSqliteQueryTool` (src/tools/sqlite-query-tool.ts) with semantic validation beyond its schema,
 * in independent layers:
 * 1. At validation, its input schema's read-only SQL guard rejects writes, PRAGMA, several statements and
 *    side-effecting functions from the query's tokens, as invalid input with the field and a reason.
 * 2. Before the query runs, the guard parses it with a real SQL parser (off the event loop): anything but a
 *    single SELECT on the incident tables is rejected as invalid input.
 * 3. At run time, only a statement that SQLite itself reports as read-only and row-returning runs, on a
 *    connection opened read-only. This layer does not trust the others.
 * The query runs in a separate process under a time limit and a result budget, so no query, however costly,
 * can stall the agent's event loop.
 */
import Database from 'better-sqlite3';
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { defineTool } from '../../src/tools/define-tool.ts';
import type { ToolContext, ToolDefinition } from '../../src/tools/define-tool.ts';
import { defineSqliteQueryTool } from '../../src/tools/sqlite-query-tool.ts';
import { incidentMetricNames, incidentServiceNames, iso } from './create-database.ts';

const timestampPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 timestamp with a zone, normalised to the database's form (UTC, second precision). */
const timestamp = z
  .string()
  .regex(timestampPattern, 'Use ISO 8601 with a zone, e.g. 2025-03-14T13:40:00Z.')
  .refine((value) => !Number.isNaN(Date.parse(value)), 'Not a valid date.')
  .transform((value) => iso(Date.parse(value)));

const service = z.enum(incidentServiceNames);
const metric = z.enum(incidentMetricNames);

const metricUnits: Record<(typeof incidentMetricNames)[number], string> = {
  p99_latency_ms: 'milliseconds',
  error_rate: 'percent of requests',
  cpu_pct: 'percent',
  db_connections: 'connections in use',
};

const schemaSummary = [
  'services(name, team, tier, depends_on: comma-separated names or NULL)',
  'deploys(id, service, version, deployed_at, author, change_summary)',
  "error_logs(id, ts, service, level in ('debug','info','warn','error'), message, trace_id: shared by every service one request went through)",
  "metrics(ts: start of minute, service, metric in ('p99_latency_ms','error_rate','cpu_pct','db_connections'), value; error_rate in percent)",
].join('; ');

/** The tables `query_database` may read; the guard rejects any other, sqlite_master included (the schema is in the description). */
export const incidentTableNames = ['services', 'deploys', 'error_logs', 'metrics'] as const;

const readOnlyEvidence = 'The incident database is read-only evidence: narrow results with WHERE, GROUP BY and LIMIT instead of changing or deleting rows.';

const maxPoints = 30;

function openReadOnly(databasePath: string): Database.Database {
  try {
    const db = new Database(databasePath, { readonly: true, fileMustExist: true });
    // Belt and braces: the connection is read-only, and SQLite refuses writes on it even if it were not.
    db.pragma('query_only = ON');
    return db;
  } catch (error) {
    throw new Error(`The incident database at ${databasePath} cannot be opened: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Runs `work` on a fresh read-only connection and always closes it. */
async function withDatabase<T>(databasePath: string, signal: AbortSignal, work: (db: Database.Database) => T | Promise<T>): Promise<T> {
  signal.throwIfAborted();
  const db = openReadOnly(databasePath);
  try {
    return await work(db);
  } finally {
    db.close();
  }
}

/** The report's file name: a pure function of the idempotency key, so a retried call finds its own report. */
export function reportFileName(idempotencyKey: string): string {
  return `incident-report-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 16)}.md`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

function renderReport(input: { title: string; rootCause: string; evidence: string[]; remediation: string[] }, context: ToolContext): string {
  const line = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
  return [
    `# ${line(input.title)}`,
    '',
    `<!-- keel idempotency-key: ${context.idempotencyKey} -->`,
    `_Written by the incident investigator in session ${context.sessionId}, turn ${context.turn}._`,
    '',
    '## Root cause',
    '',
    input.rootCause.trim(),
    '',
    '## Evidence',
    '',
    ...input.evidence.map((item) => `- ${line(item)}`),
    '',
    '## Remediation',
    '',
    ...input.remediation.map((item, index) => `${index + 1}. ${line(item)}`),
    '',
  ].join('\n');
}

export function createIncidentTools(databasePath: string, reportDirectory: string): ToolDefinition[] {
  const listServices = defineTool({
    name: 'list_services',
    description:
      'List the services of the system with their team, tier (1 = most critical) and the services each one calls, ' +
      'plus the time window the incident database covers and the metric names available.',
    input: z.object({}),
    risk: 'read',
    scopes: ['incident-db:read'],
    timeoutMs: 5_000,
    execute: (_input, { signal }) =>
      withDatabase(databasePath, signal, (db) => {
        const rows = db.prepare('SELECT name, team, tier, depends_on FROM services ORDER BY tier, name').all() as {
          name: string;
          team: string;
          tier: number;
          depends_on: string | null;
        }[];
        const window = db.prepare('SELECT MIN(ts) AS start, MAX(ts) AS last_minute FROM metrics').get() as { start: string | null; last_minute: string | null };
        return {
          services: rows.map((row) => ({ name: row.name, team: row.team, tier: row.tier, dependsOn: row.depends_on === null ? [] : row.depends_on.split(',') })),
          dataWindow: { from: window.start, lastMetricMinute: window.last_minute },
          metrics: Object.entries(metricUnits).map(([name, unit]) => ({ name, unit })),
          note: 'All timestamps are ISO 8601 UTC strings (e.g. 2025-03-14T13:40:00Z) and compare correctly as text.',
        };
      }),
  });

  const queryDatabase = defineSqliteQueryTool({
    name: 'query_database',
    description:
      'Execute a read-only SQL query (SQLite dialect) against the incident database and get the rows back as JSON. ' +
      'Only a single SELECT statement (WITH … SELECT included) on the tables below is accepted; it is parsed before it runs, and ' +
      `anything that writes (INSERT, UPDATE, DELETE, DDL), PRAGMA and ATTACH are rejected. Tables: ${schemaSummary}. ` +
      'Prefer aggregates (COUNT, GROUP BY) and narrow time windows over dumping raw rows.',
    databasePath,
    allowedTables: incidentTableNames,
    defaultRows: 100,
    maxRows: 500,
    timeoutMs: 10_000,
    hint: readOnlyEvidence,
    schemaSummary,
    scopes: ['incident-db:read'],
  });

  const getMetrics = defineTool({
    name: 'get_metrics',
    description:
      'Summarise one per-minute metric of one service over [from, to): min, max, average, the minutes of the min and max, ' +
      `and at most ${maxPoints} downsampled points (average and max per bucket). error_rate is in percent of requests; ` +
      'db_connections is connections in use (services without a database have none).',
    input: z.object({
      service,
      metric,
      from: timestamp.describe('Start, inclusive: ISO 8601, e.g. 2025-03-14T13:00:00Z.'),
      to: timestamp.describe('End, exclusive: ISO 8601, e.g. 2025-03-14T14:15:00Z.'),
    }),
    risk: 'read',
    scopes: ['incident-db:read'],
    timeoutMs: 5_000,
    execute: ({ service: name, metric: metricName, from, to }, { signal }) => {
      if (from >= to) throw new Error(`get_metrics: from (${from}) must be before to (${to}).`);
      return withDatabase(databasePath, signal, (db) => {
        const rows = db
          .prepare('SELECT ts, value FROM metrics WHERE service = ? AND metric = ? AND ts >= ? AND ts < ? ORDER BY ts')
          .all(name, metricName, from, to) as { ts: string; value: number }[];
        const base = { service: name, metric: metricName, unit: metricUnits[metricName], from, to, samples: rows.length };
        const first = rows[0];
        const last = rows.at(-1);
        if (first === undefined || last === undefined) {
          return { ...base, note: `No ${metricName} data for ${name} in this window.${metricName === 'db_connections' ? ' This service may have no database.' : ''}` };
        }
        let min = first;
        let max = first;
        let sum = 0;
        for (const row of rows) {
          if (row.value < min.value) min = row;
          if (row.value > max.value) max = row;
          sum += row.value;
        }
        const spanMinutes = Math.ceil((Date.parse(to) - Date.parse(from)) / 60_000);
        const bucketMinutes = Math.max(1, Math.ceil(spanMinutes / maxPoints));
        const buckets = new Map<number, { sum: number; count: number; max: number }>();
        for (const row of rows) {
          const index = Math.floor((Date.parse(row.ts) - Date.parse(from)) / (bucketMinutes * 60_000));
          const bucket = buckets.get(index) ?? { sum: 0, count: 0, max: Number.NEGATIVE_INFINITY };
          bucket.sum += row.value;
          bucket.count++;
          bucket.max = Math.max(bucket.max, row.value);
          buckets.set(index, bucket);
        }
        const round = (value: number) => Math.round(value * 100) / 100;
        return {
          ...base,
          min: min.value,
          minAt: min.ts,
          max: max.value,
          maxAt: max.ts,
          avg: round(sum / rows.length),
          first: { ts: first.ts, value: first.value },
          last: { ts: last.ts, value: last.value },
          bucketMinutes,
          points: [...buckets].map(([index, bucket]) => ({
            ts: iso(Date.parse(from) + index * bucketMinutes * 60_000),
            avg: round(bucket.sum / bucket.count),
            max: bucket.max,
          })),
        };
      });
    },
  });

  const recentDeploys = defineTool({
    name: 'recent_deploys',
    description: 'List deploys, newest first (at most 50): version, time, author and change summary. Optionally only since a time and only for one service.',
    input: z.object({
      since: timestamp.optional().describe('Only deploys at or after this time: ISO 8601, e.g. 2025-03-14T12:00:00Z.'),
      service: service.optional(),
    }),
    risk: 'read',
    scopes: ['incident-db:read'],
    timeoutMs: 5_000,
    execute: ({ since, service: name }, { signal }) =>
      withDatabase(databasePath, signal, (db) => {
        const deploys = db
          .prepare(
            'SELECT id, service, version, deployed_at, author, change_summary FROM deploys ' +
              'WHERE (@since IS NULL OR deployed_at >= @since) AND (@service IS NULL OR service = @service) ORDER BY deployed_at DESC LIMIT 50',
          )
          .all({ since: since ?? null, service: name ?? null });
        return { count: deploys.length, deploys };
      }),
  });

  const writeReport = defineTool({
    name: 'write_report',
    description:
      'Write the root-cause report as a markdown file and return its path. Call it once, when the investigation is done. ' +
      'Each evidence item should cite a concrete observation (service, metric or log, timestamps, numbers).',
    input: z.object({
      title: z.string().min(1).max(200),
      rootCause: z.string().min(1).max(5_000).describe('The mechanism, its trigger and the timeline.'),
      evidence: z.array(z.string().min(1).max(1_000)).min(1).max(30),
      remediation: z.array(z.string().min(1).max(1_000)).min(1).max(20).describe('Immediate mitigation first, then follow-ups.'),
    }),
    risk: 'write',
    // The report is made of evidence the tools returned, by design; it picks no recipient, amount or path.
    sinks: [],
    scopes: ['reports:write'],
    // The report's file is named after the call's idempotency key, so a re-run finds it and writes nothing.
    idempotent: true,
    timeoutMs: 10_000,
    execute: async (input, context) => {
      context.signal.throwIfAborted();
      const directory = resolve(reportDirectory);
      const path = join(directory, reportFileName(context.idempotencyKey));
      if (await exists(path)) return { path, created: false, note: 'A report for this call already exists; it was not written again.' };
      await mkdir(directory, { recursive: true });
      // Write aside, then link into place: link fails if the report appeared meanwhile, and a reader never sees half a file.
      const temporary = `${path}.${randomUUID()}.tmp`;
      try {
        await writeFile(temporary, renderReport(input, context), { flag: 'wx' });
        context.signal.throwIfAborted();
        try {
          await link(temporary, path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { path, created: false, note: 'A report for this call already exists; it was not written again.' };
          throw error;
        }
      } finally {
        await rm(temporary, { force: true });
      }
      return { path, created: true };
    },
  });

  return [listServices, queryDatabase, getMetrics, recentDeploys, writeReport];
}
