import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderLimits } from '../../src/spec/provider-limits.ts';
import { createMockRateLimiter, startMockAnthropicServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply, MockServer, RecordedRequest } from '../../src/testing/index.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import type { RedisServerProcess } from '../helpers/redis-server.ts';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const worker = fileURLToPath(new URL('./limits-worker.ts', import.meta.url));

// 300 sessions of two calls each (a tool call, then the answer) against an account of 540 requests and 30,000 output
// tokens per minute, where every call reserves 1,000 output tokens: at most 30 calls fit at once, and the last 60
// requests wait for the request bucket to refill (about 7 s). Input is limited too, far above what is sent.
const limits: ProviderLimits = { requestsPerMinute: 540, inputTokensPerMinute: 1_000_000, outputTokensPerMinute: 30_000 };
const sessions = 300;
const processes = 3;

interface WorkerSummary {
  readonly completed: number;
  readonly failures: readonly string[];
}

function runWorker(redisUrl: string, baseURL: string, first: number, count: number): Promise<WorkerSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, redisUrl, baseURL, String(first), String(count), JSON.stringify(limits)], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = output.trim().split('\n').pop() ?? '';
      if (code !== 0 || line === '') reject(new Error(`worker exited ${code}: ${errors.slice(-2_000)}`));
      else resolve(JSON.parse(line) as WorkerSummary);
    });
  });
}

/** The session a request belongs to (its task is the first user message) and whether it is the session's first call. */
function callOf(request: RecordedRequest): { readonly task: string; readonly first: boolean } {
  const body = request.body as { messages: { role: string; content: string | { type: string; text?: string }[] }[] };
  const [opening] = body.messages;
  const content = opening?.content;
  const task = typeof content === 'string' ? content : (content?.find((block) => block.type === 'text')?.text ?? '');
  return { task: /task-\d+/.exec(task)?.[0] ?? task, first: body.messages.length === 1 };
}

/** The most sessions that had started (first call served) and not yet finished (last call served) at any time. */
function peakOpenSessions(requests: readonly RecordedRequest[]): { peak: number; firstFinishIndex: number; startIndexes: number[] } {
  const lastCall = new Map<string, number>();
  requests.forEach((request, index) => lastCall.set(callOf(request).task, index));
  let open = 0;
  let peak = 0;
  let firstFinishIndex = Number.POSITIVE_INFINITY;
  const startIndexes: number[] = [];
  requests.forEach((request, index) => {
    const call = callOf(request);
    if (call.first) {
      open += 1;
      startIndexes.push(index);
    }
    peak = Math.max(peak, open);
    if (lastCall.get(call.task) === index && !call.first) {
      open -= 1;
      firstFinishIndex = Math.min(firstFinishIndex, index);
    }
  });
  return { peak, firstFinishIndex, startIndexes };
}

describe('three processes sharing one account through Redis', () => {
  let redis: RedisServerProcess | undefined;
  let server: MockServer | undefined;
  const mockLimits = createMockRateLimiter(limits);

  beforeAll(async () => {
    redis = await startRedisServer();
    server = await startMockAnthropicServer({
      rateLimits: mockLimits,
      script: (body): AnthropicMockReply => {
        const messages = (body as { messages: unknown[] }).messages;
        const response = messages.length === 1
          ? { content: [{ type: 'tool_use' as const, name: 'lookup', input: { id: 'r-1' } }], usage: { output_tokens: 12 } }
          : { content: [{ type: 'text' as const, text: 'The record is fine.' }], usage: { output_tokens: 8 } };
        return { fault: 'slow-first-byte', delayMs: 25, response };
      },
    });
  }, 30_000);

  afterAll(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('runs 300 sessions with no limit exceeded, none failed, and running sessions ahead of new ones', async () => {
    const share = sessions / processes;
    const summaries = await Promise.all(Array.from({ length: processes }, (_, index) => runWorker((redis as RedisServerProcess).url, (server as MockServer).baseURL, index * share, share)));

    expect(summaries.flatMap((summary) => summary.failures)).toEqual([]);
    expect(summaries.reduce((total, summary) => total + summary.completed, 0)).toBe(sessions);
    // The mock enforces the limits: nothing was refused, and no bucket went below empty.
    expect(mockLimits.counts.rejected, JSON.stringify(mockLimits.counts)).toBe(0);
    expect(mockLimits.counts.served).toBe(sessions * 2);
    expect(mockLimits.counts.lowestShare).toBeGreaterThanOrEqual(0);

    const requests = (server as MockServer).requests.filter((request) => request.path.startsWith('/v1/messages') && !request.path.includes('count_tokens'));
    expect(requests).toHaveLength(sessions * 2);
    const { peak, firstFinishIndex, startIndexes } = peakOpenSessions(requests);
    // First-come-first-served would start all 300 sessions before any second call; the running lane keeps the
    // sessions open at once near the 30 calls the output limit lets through together.
    expect(peak).toBeLessThan(120);
    const lastStart = startIndexes.at(-1) ?? 0;
    expect(firstFinishIndex).toBeLessThan(lastStart);
  }, 180_000);
});
