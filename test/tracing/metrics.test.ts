import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { computeSessionMetrics } from '../../src/tracing/index.ts';
import { createKeelMetrics } from '../../src/tracing/otel.ts';
import { handJournal, limits, startOtlpReceiver, supportJournal, usage } from './helpers.ts';

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

interface Exposition {
  readonly help: Map<string, string>;
  readonly types: Map<string, string>;
  readonly samples: Sample[];
}

const metricName = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const labelPair = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\n"])*"';
const sampleLine = new RegExp(`^(${metricName})(\\{${labelPair}(?:,${labelPair})*\\})? ([-+]?(?:[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$`);

/** A strict reader of the text exposition format: every line must be HELP, TYPE or a sample of a declared family. */
function parseExposition(text: string): Exposition {
  const help = new Map<string, string>();
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    const helpMatch = new RegExp(`^# HELP (${metricName}) (.*)$`).exec(line);
    if (helpMatch !== null) {
      expect(help.has(helpMatch[1] as string)).toBe(false);
      help.set(helpMatch[1] as string, helpMatch[2] as string);
      continue;
    }
    // OpenTelemetry's exporter declares each family's unit between its HELP and TYPE lines.
    if (new RegExp(`^# UNIT (${metricName}) \\S+$`).test(line)) continue;
    const typeMatch = new RegExp(`^# TYPE (${metricName}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (typeMatch !== null) {
      expect(help.has(typeMatch[1] as string), `HELP before TYPE for ${typeMatch[1]}`).toBe(true);
      types.set(typeMatch[1] as string, typeMatch[2] as string);
      continue;
    }
    const match = sampleLine.exec(line);
    if (match === null) throw new Error(`not a valid exposition line: ${line}`);
    const name = match[1] as string;
    const family = [...types.keys()].find((candidate) => name === candidate || (types.get(candidate) === 'histogram' && [`${candidate}_bucket`, `${candidate}_sum`, `${candidate}_count`].includes(name)));
    expect(family, `a TYPE line declares ${name}`).toBeDefined();
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').slice(1, -1).match(new RegExp(labelPair, 'g')) ?? []) {
      const index = pair.indexOf('=');
      labels[pair.slice(0, index)] = pair.slice(index + 2, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const raw = match[3] as string;
    samples.push({ name, labels, value: raw === '+Inf' || raw === 'Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return { help, types, samples };
}

function value(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = exposition.samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted));
  if (found.length !== 1) throw new Error(`expected one sample ${name} ${JSON.stringify(labels)}, found ${found.length}`);
  return (found[0] as Sample).value;
}

describe('session metrics (seed §12.2)', () => {
  it('computes per-turn and per-session values from the journal', () => {
    const metrics = computeSessionMetrics(supportJournal());
    expect(metrics.turns.map((turn) => ({ turn: turn.turn, in: turn.inputTokens, out: turn.outputTokens, latency: turn.llmLatencyMs, calls: turn.toolCalls, errors: turn.toolErrors, rate: turn.toolErrorRate, utilization: turn.contextUtilization, cost: turn.costUsd }))).toEqual([
      { turn: 1, in: 1000, out: 50, latency: 1000, calls: 2, errors: 1, rate: 0.5, utilization: 0.1, cost: 0.01 },
      { turn: 2, in: 1500, out: 100, latency: 2000, calls: 1, errors: 1, rate: 1, utilization: 0.75, cost: 0.02 },
      { turn: 3, in: 2000, out: 200, latency: 500, calls: 0, errors: 0, rate: null, utilization: 0.5, cost: 0.03 },
    ]);
    expect(metrics).toMatchObject({
      agent: 'support',
      status: 'completed',
      completion: 'success',
      totalTurns: 3,
      inputTokens: 4500,
      outputTokens: 350,
      cacheReadTokens: 200,
      totalTokens: 4850,
      durationMs: 3690,
      llmLatencyMs: 3500,
      modelCalls: 3,
      toolCalls: 3,
      toolErrors: 2,
      distinctTools: 2,
      availableTools: 3,
      contextPeakTokens: 7500,
      contextPeakUtilization: 0.75,
      anomalies: ['context-utilization'],
      guardTrips: [],
    });
    expect(metrics.costUsd).toBeCloseTo(0.06, 12);
    expect(metrics.toolErrorRate).toBeCloseTo(2 / 3, 12);
    expect(metrics.toolDiversity).toBeCloseTo(2 / 3, 12);
    expect(metrics.toolCoverage).toBeCloseTo(2 / 3, 12);
  });

  it('calls a failure by the deadline a timeout, and a session without session-end running', () => {
    const journal = handJournal('ses_late');
    journal.add({ type: 'session-start', agent: { name: 'slow', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits }, 0);
    journal.add({ type: 'turn-start', turn: 1 }, 1);
    expect(computeSessionMetrics(journal.events)).toMatchObject({ completion: 'running', totalTurns: 1, durationMs: 1, toolErrorRate: null, toolDiversity: null, toolCoverage: null, costUsd: 0 });
    journal.add({ type: 'guard-trip', turn: 1, guard: 'deadline', limit: 10, actual: 11, message: 'late' }, 11);
    journal.add({ type: 'session-end', status: 'failed', output: null, error: { code: 'guard-tripped', message: 'late', fault: 'policy', retryable: false }, turns: 1, usage: usage(0, 0), costUsd: 0 }, 12);
    expect(computeSessionMetrics(journal.events)).toMatchObject({ completion: 'timeout', status: 'failed', guardTrips: ['deadline'], durationMs: 12 });
  });
});

describe('OpenTelemetry metrics and their Prometheus text', () => {
  it('records the journal into GenAI and keel instruments, rendered as valid exposition text', async () => {
    const metrics = createKeelMetrics({ env: {} });
    expect(metrics.otlpEndpoint).toBeNull();
    metrics.recordJournal(supportJournal());
    const text = await metrics.renderPrometheus();
    const exposition = parseExposition(text);

    expect(exposition.types.get('gen_ai_client_token_usage')).toBe('histogram');
    expect(exposition.types.get('gen_ai_client_operation_duration')).toBe('histogram');
    // One schema version (1.41.0): sessions and tool calls are operations of gen_ai.client.operation.duration.
    expect(exposition.types.get('gen_ai_invoke_agent_duration')).toBeUndefined();
    expect(exposition.types.get('gen_ai_execute_tool_duration')).toBeUndefined();
    expect(exposition.types.get('keel_turn_count_total')).toBe('counter');
    expect(exposition.types.get('keel_cost_usd_total')).toBe('counter');
    expect(exposition.help.get('gen_ai_client_token_usage')).toMatch(/tokens/);

    const call = { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'anthropic', gen_ai_request_model: 'claude-x', gen_ai_response_model: 'claude-x-20250101' };
    expect(value(exposition, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'input' })).toBe(4500);
    expect(value(exposition, 'gen_ai_client_token_usage_count', { ...call, gen_ai_token_type: 'input' })).toBe(3);
    expect(value(exposition, 'gen_ai_client_token_usage_sum', { ...call, gen_ai_token_type: 'output' })).toBe(350);
    // Input tokens per call were 1000, 1500 and 2000: two fall in the (256, 1024] and (1024, 4096] buckets.
    expect(value(exposition, 'gen_ai_client_token_usage_bucket', { ...call, gen_ai_token_type: 'input', le: '1024' })).toBe(1);
    expect(value(exposition, 'gen_ai_client_token_usage_bucket', { ...call, gen_ai_token_type: 'input', le: '4096' })).toBe(3);
    expect(value(exposition, 'gen_ai_client_token_usage_bucket', { ...call, gen_ai_token_type: 'input', le: '+Inf' })).toBe(3);
    expect(value(exposition, 'gen_ai_client_operation_duration_sum', call)).toBeCloseTo(3.5, 12);
    expect(value(exposition, 'gen_ai_client_operation_duration_bucket', { ...call, le: '0.64' })).toBe(1);
    expect(value(exposition, 'gen_ai_client_operation_duration_bucket', { ...call, le: '1.28' })).toBe(2);

    const agent = { gen_ai_agent_name: 'support' };
    expect(value(exposition, 'keel_turn_count_total', agent)).toBe(3);
    expect(value(exposition, 'keel_turn_tokens_sum', { ...agent, gen_ai_token_type: 'input' })).toBe(4500);
    expect(value(exposition, 'keel_turn_llm_latency_sum', agent)).toBeCloseTo(3.5, 12);
    expect(value(exposition, 'keel_turn_tool_calls_sum', agent)).toBe(3);
    expect(value(exposition, 'keel_turn_tool_error_rate_sum', agent)).toBe(1.5);
    expect(value(exposition, 'keel_turn_tool_error_rate_count', agent)).toBe(2);
    expect(value(exposition, 'keel_turn_context_utilization_sum', agent)).toBeCloseTo(1.35, 12);
    expect(value(exposition, 'keel_session_count_total', { ...agent, keel_session_completion: 'success' })).toBe(1);
    expect(value(exposition, 'keel_session_turns_sum', agent)).toBe(3);
    expect(value(exposition, 'keel_session_tokens_sum', { ...agent, gen_ai_token_type: 'output' })).toBe(350);
    expect(value(exposition, 'keel_session_cost_usd_sum', agent)).toBeCloseTo(0.06, 12);
    expect(value(exposition, 'keel_session_tool_error_rate_sum', agent)).toBeCloseTo(2 / 3, 12);
    expect(value(exposition, 'keel_session_tool_diversity_sum', agent)).toBeCloseTo(2 / 3, 12);
    expect(value(exposition, 'keel_session_context_peak_utilization_sum', agent)).toBe(0.75);
    expect(value(exposition, 'gen_ai_client_operation_duration_sum', { ...agent, gen_ai_operation_name: 'invoke_agent' })).toBe(3.69);
    expect(value(exposition, 'keel_cost_usd_total', { ...agent, gen_ai_provider_name: 'anthropic', gen_ai_request_model: 'claude-x' })).toBeCloseTo(0.06, 12);
    expect(value(exposition, 'keel_tool_calls_total', { gen_ai_tool_name: 'lookup', keel_tool_outcome: 'ok' })).toBe(1);
    expect(value(exposition, 'keel_tool_calls_total', { gen_ai_tool_name: 'lookup', keel_tool_outcome: 'error' })).toBe(1);
    expect(value(exposition, 'keel_tool_calls_total', { gen_ai_tool_name: 'search', keel_tool_outcome: 'error' })).toBe(1);
    expect(value(exposition, 'gen_ai_client_operation_duration_sum', { gen_ai_operation_name: 'execute_tool', gen_ai_tool_name: 'lookup', 'error_type': 'tool-failed' })).toBe(0.05);
    expect(value(exposition, 'keel_anomaly_count_total', { ...agent, keel_anomaly_signal: 'context-utilization' })).toBe(1);

    // Buckets are cumulative and end with +Inf equal to _count.
    const bucketsByLabels = new Map<string, number[]>();
    for (const sample of exposition.samples.filter((candidate) => candidate.name.endsWith('_bucket'))) {
      const { le: _le, ...rest } = sample.labels;
      const key = `${sample.name}${JSON.stringify(rest)}`;
      bucketsByLabels.set(key, [...(bucketsByLabels.get(key) ?? []), sample.value]);
    }
    for (const counts of bucketsByLabels.values()) for (let index = 1; index < counts.length; index += 1) expect(counts[index]).toBeGreaterThanOrEqual(counts[index - 1] as number);
    await metrics.shutdown();
  });

  it('gives the same numbers live, update by update, as from the stored journal', async () => {
    const live = createKeelMetrics({ env: {} });
    for (const event of supportJournal()) live.observe({ type: 'event', event });
    live.observe({ type: 'model-part' });
    const stored = createKeelMetrics({ env: {} });
    stored.recordJournal(supportJournal());
    expect(await live.renderPrometheus()).toBe(await stored.renderPrometheus());
    await live.shutdown();
    await stored.shutdown();
  });

  it('serves /metrics over node:http and refuses other methods', async () => {
    const metrics = createKeelMetrics({ env: {} });
    metrics.recordJournal(supportJournal());
    const server = createServer((request, response) => metrics.handler(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const exposition = parseExposition(await response.text());
      expect(value(exposition, 'keel_turn_count_total', { gen_ai_agent_name: 'support' })).toBe(3);
      const head = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        get({ host: '127.0.0.1', port, path: '/metrics', method: 'HEAD' }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
      expect(head).toEqual({ status: 200, body: '' });
      const post = await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await metrics.shutdown();
    }
  });

  it('escapes label values and help text', async () => {
    const journal = handJournal('ses_odd');
    journal.add({ type: 'session-start', agent: { name: 'odd "agent"\\\nname', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits }, 0);
    journal.add({ type: 'turn-start', turn: 1 }, 1);
    journal.add({ type: 'session-end', status: 'completed', output: 'y', error: null, turns: 1, usage: usage(0, 0), costUsd: 0 }, 2);
    const metrics = createKeelMetrics({ env: {} });
    metrics.recordJournal(journal.events);
    const exposition = parseExposition(await metrics.renderPrometheus());
    expect(value(exposition, 'keel_turn_count_total', { gen_ai_agent_name: 'odd "agent"\\\nname' })).toBe(1);
    await metrics.shutdown();
  });

  it('pushes the metrics to an OTLP/HTTP collector when an endpoint is set', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const metrics = createKeelMetrics({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, exportIntervalMillis: 60_000 });
      expect(metrics.otlpEndpoint).toBe(`${receiver.url}/v1/metrics`);
      metrics.recordJournal(supportJournal());
      await metrics.forceFlush();
      await metrics.shutdown();
      const names = receiver.bodies
        .filter((body) => body.path === '/v1/metrics')
        .flatMap((body) => (body.body as { resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[] }).resourceMetrics)
        .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics.map((metric) => metric.name)));
      expect(names).toContain('gen_ai.client.token.usage');
      expect(names).toContain('gen_ai.client.operation.duration');
      expect(names).toContain('keel.anomaly.count');
    } finally {
      await receiver.close();
    }
  });
});
