// The error of Keel's Claude token estimate (o200k × 1.3 plus framing), measured against Anthropic's count-tokens endpoint.
//
//   ANTHROPIC_API_KEY=… npx tsx bench/token-count-error.ts [--model claude-sonnet-4-6] [--json]
//   npx tsx bench/token-count-error.ts --mock      # the same run against the local mock: checks the script, measures nothing
//
// Without a key (and without --mock) it says it cannot run and exits 0: there is no offline ground truth to measure
// against (see the comment on anthropicCalibrationFactor in src/context/token-counter.ts). The corpus is fixed and
// built here, so runs on different days and keys count the same requests. The relative error is
// (estimate − exact) / exact: positive is an over-count (safe, wastes headroom), negative an under-count (the
// dangerous side, a provider 400 near the window). It costs nothing: count-tokens is free, though rate-limited.
import { parseArgs } from 'node:util';
import { countMessage, countTools, createTokenCounter } from '../src/context/token-counter.ts';
import { createAnthropicModel } from '../src/model/index.ts';
import type { Message, ModelRequest, ToolSpec } from '../src/spec/index.ts';
import { startMockAnthropicServer } from '../src/testing/index.ts';

const { values } = parseArgs({ options: { model: { type: 'string', default: 'claude-sonnet-4-6' }, json: { type: 'boolean', default: false }, mock: { type: 'boolean', default: false } } });
const modelId = values.model;

const user = (text: string): Message => ({ role: 'user', content: [{ type: 'text', text }] });
const ask = (system: string, messages: Message[], tools: ToolSpec[] = []): ModelRequest => ({ system, messages, tools, maxOutputTokens: 1024 });

const prose =
  'The incident began shortly after the afternoon deploy, when the payments service started rejecting a small but growing share of requests. ' +
  'Engineers first suspected the database, because latency had risen there as well, but the connection pool was healthy and the slow queries predated the failures. ' +
  'What had changed was a configuration flag that shortened the timeout for calls to the fraud checker; under normal load the checker answered in time, ' +
  'yet during the evening peak its tail latency crossed the new limit, and every timeout surfaced to customers as a declined card. ';
const french =
  "L'incident a commencé peu après le déploiement de l'après-midi : le service de paiement refusait une part croissante des requêtes. " +
  "Les ingénieurs ont d'abord soupçonné la base de données, mais le véritable changement était un délai d'attente raccourci vers le service antifraude. ";
const japanese = '午後のデプロイ直後に障害が始まり、決済サービスが一部のリクエストを拒否し始めました。原因は不正検知サービスへのタイムアウト設定の短縮でした。';
const typescript = `export function backoffDelay(retry: number, retryAfterMs: number | undefined, options: BackoffOptions, random: () => number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, options.maxDelayMs);
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** retry);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
`;
const python = `def summarize(rows: list[dict[str, float]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for row in rows:
        for key, value in row.items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: round(value / len(rows), 3) for key, value in totals.items()}
`;
const records = JSON.stringify(Array.from({ length: 30 }, (_unused, index) => ({ id: `ord_${(index * 7919) % 100_000}`, amount: ((index * 37) % 500) + 0.99, currency: index % 3 === 0 ? 'EUR' : 'USD', status: ['paid', 'refunded', 'pending'][index % 3] })));
const logs = Array.from({ length: 40 }, (_unused, line) => `2025-03-14T13:${String(line % 60).padStart(2, '0')}:07Z payments-api ERROR upstream=fraud-checker status=504 latency_ms=${(line * 97) % 2000} trace=${(line * 2654435761) % 4294967296}`).join('\n');
const csv = ['minute,requests,errors,p99_ms', ...Array.from({ length: 30 }, (_unused, minute) => `13:${String(minute).padStart(2, '0')},${1200 + minute * 13},${minute * minute},${180 + minute * 17}`)].join('\n');
const tools: ToolSpec[] = [
  { name: 'query_database', description: 'Run one read-only SELECT against the incident database and return the rows as JSON.', inputSchema: { type: 'object', properties: { sql: { type: 'string', description: 'A single SELECT statement.' } }, required: ['sql'] } },
  { name: 'recent_deploys', description: 'List deploys since a time, newest first.', inputSchema: { type: 'object', properties: { since: { type: 'string', format: 'date-time' }, service: { type: 'string' } }, required: ['since'] } },
];

const corpus: { readonly name: string; readonly request: ModelRequest }[] = [
  { name: 'hello', request: ask('Be brief.', [user('Hello')]) },
  { name: 'prose-en', request: ask('You are an incident analyst.', [user(prose.repeat(4))]) },
  { name: 'prose-fr', request: ask('Tu es un analyste.', [user(french.repeat(4))]) },
  { name: 'prose-ja', request: ask('あなたは障害分析の担当者です。', [user(japanese.repeat(6))]) },
  { name: 'code-ts', request: ask('Review the code.', [user(typescript.repeat(4))]) },
  { name: 'code-python', request: ask('Review the code.', [user(python.repeat(4))]) },
  { name: 'json-records', request: ask('Summarize the orders.', [user(records)]) },
  { name: 'logs', request: ask('Find the cause.', [user(logs)]) },
  { name: 'csv-metrics', request: ask('Find the anomaly.', [user(csv)]) },
  { name: 'tools-only', request: ask('Investigate the incident.', [user('What changed before 13:40?')], tools) },
  {
    name: 'tool-round-trip',
    request: ask('Investigate the incident.', [
      user('What changed before 13:40?'),
      { role: 'assistant', content: [{ type: 'text', text: 'Checking recent deploys first.' }, { type: 'tool_use', id: 'toolu_01', name: 'recent_deploys', input: { since: '2025-03-14T11:40:00Z' } }] },
      { role: 'user', content: [{ type: 'tool_result', toolUseId: 'toolu_01', content: records, isError: false }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_02', name: 'query_database', input: { sql: 'SELECT minute, errors FROM metrics WHERE service = \'payments-api\'' } }] },
      { role: 'user', content: [{ type: 'tool_result', toolUseId: 'toolu_02', content: csv, isError: false }] },
    ], tools),
  },
];

/** The estimate the planner makes of a request: the same functions, the same Claude factor. */
function estimate(request: ModelRequest, factor?: number): number {
  const counter = createTokenCounter({ provider: 'anthropic', modelId, ...(factor === undefined ? {} : { anthropicFactor: factor }) });
  return counter.count(request.system ?? '') + countTools(counter, request.tools) + request.messages.reduce((sum, message) => sum + countMessage(counter, message), 0);
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const apiKey = process.env.ANTHROPIC_API_KEY?.trim() ?? '';
  if (!values.mock && apiKey === '') {
    console.log('token-count-error: cannot run: ANTHROPIC_API_KEY is not set, and there is no offline ground truth for Claude token counts.');
    console.log('Set the key to measure the o200k × 1.3 estimate against the count-tokens endpoint, or pass --mock to check this script against the local mock (which measures nothing).');
    return;
  }
  const mock = values.mock ? await startMockAnthropicServer({ script: [] }) : null;
  const model = createAnthropicModel({ modelId, apiKey: mock === null ? apiKey : 'sk-ant-mock', ...(mock === null ? (process.env.ANTHROPIC_BASE_URL === undefined ? {} : { baseURL: process.env.ANTHROPIC_BASE_URL }) : { baseURL: mock.baseURL }), timeoutMs: 30_000 });
  try {
    const rows: { name: string; exact: number; estimate: number; error: number; impliedFactor: number }[] = [];
    for (const { name, request } of corpus) {
      const exact = await model.countTokens!(request, new AbortController().signal);
      const estimated = estimate(request);
      // What factor on the raw o200k count would have hit the exact figure (framing overhead included in both).
      const raw = estimate(request, 1);
      rows.push({ name, exact, estimate: estimated, error: (estimated - exact) / exact, impliedFactor: exact / raw });
    }
    const magnitudes = rows.map((row) => Math.abs(row.error)).sort((left, right) => left - right);
    const summary = {
      model: modelId,
      against: mock === null ? 'anthropic count-tokens endpoint' : 'local mock (its made-up rule: this measures nothing)',
      requests: rows.length,
      meanError: rows.reduce((sum, row) => sum + row.error, 0) / rows.length,
      meanAbsoluteError: magnitudes.reduce((sum, value) => sum + value, 0) / magnitudes.length,
      p95AbsoluteError: percentile(magnitudes, 0.95),
      maxAbsoluteError: magnitudes[magnitudes.length - 1] ?? Number.NaN,
      underCounts: rows.filter((row) => row.error < 0).map((row) => row.name),
    };
    if (values.json) {
      console.log(JSON.stringify({ summary, rows }));
      return;
    }
    const percent = (value: number): string => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)}%`;
    console.log(`Claude token estimate (o200k × 1.3 + framing) vs ${summary.against}, model ${modelId}`);
    console.log(`${'request'.padEnd(16)} ${'exact'.padStart(7)} ${'estimate'.padStart(9)} ${'error'.padStart(8)} ${'factor'.padStart(7)}`);
    for (const row of rows) console.log(`${row.name.padEnd(16)} ${String(row.exact).padStart(7)} ${String(row.estimate).padStart(9)} ${percent(row.error).padStart(8)} ${row.impliedFactor.toFixed(2).padStart(7)}`);
    console.log(`relative error: mean ${percent(summary.meanError)}  mean |e| ${(summary.meanAbsoluteError * 100).toFixed(1)}%  p95 |e| ${(summary.p95AbsoluteError * 100).toFixed(1)}%  max |e| ${(summary.maxAbsoluteError * 100).toFixed(1)}%`);
    console.log(`under-counts (the unsafe side): ${summary.underCounts.length === 0 ? 'none' : summary.underCounts.join(', ')}`);
  } finally {
    await mock?.close();
  }
}

await main();
