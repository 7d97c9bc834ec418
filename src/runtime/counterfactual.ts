import { KeelError } from '../errors/index.ts';
import { costOf, createGateway, createModelFromSpec } from '../model/index.ts';
import type { PriceTable } from '../model/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { ModelResponseEvent, SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { ContentBlock } from '../spec/message.ts';
import type { Model, ModelRequest, ModelResponse } from '../spec/model.ts';
import type { Usage } from '../spec/usage.ts';
import { canonicalJson, systemClock } from '../util/index.ts';
import { diffLines } from './context-diff.ts';
import { readSessionEvents, replayFromEvents } from './replay.ts';
import type { ReplayedRequest } from './replay.ts';

/**
 * Counterfactual testing: take the exact request of a turn, change one thing (the model,
 * the system prompt, the context assembly) and call the model once more, to see whether the change
 * alters the decision. Only the model is called: no tool runs, and nothing is written to the journal.
 */

export type RequestTransform = (request: ModelRequest) => ModelRequest;

export interface CounterfactualOptions {
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly sessionId: string;
  readonly turn: number;
  /** A Model or a model spec. Defaults to the spec recorded at session start. */
  readonly model?: Model | string;
  /** Replaces the request's system prompt. */
  readonly systemPrompt?: string;
  /** A named context strategy from `contextStrategies` (`window:N`, `elide-tool-results`, `no-tools`), applied after `systemPrompt`. */
  readonly strategy?: string;
  /** Any other change to the request, applied last. */
  readonly transform?: RequestTransform;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly clock?: Clock;
  /** Retries of retryable model failures. Defaults to 2. */
  readonly maxRetries?: number;
  readonly signal?: AbortSignal;
  readonly prices?: PriceTable;
}

export interface CounterfactualResult {
  readonly replay: ReplayedRequest;
  /** The request actually sent for the counterfactual. */
  readonly request: ModelRequest;
  /** What changed in the request, in words. */
  readonly changes: readonly string[];
  /** The journaled response of the turn, or null when the session stopped before it arrived. */
  readonly original: ModelResponseEvent | null;
  readonly counterfactual: ModelResponse;
  readonly provider: string;
  readonly costUsd: number | null;
  readonly latencyMs: number;
  /** How the outcome differs, one line per difference; empty when it does not. */
  readonly differences: readonly string[];
}

export async function runCounterfactual(options: CounterfactualOptions): Promise<CounterfactualResult> {
  const events = await readSessionEvents(options.journal, options.sessionId);
  const replay = await replayFromEvents(events, options.blobs, options.turn);
  const model = resolveModel(options, events);

  const changes: string[] = [];
  let request: ModelRequest = replay.request;
  if (options.systemPrompt !== undefined) {
    request = { ...request, system: options.systemPrompt };
    changes.push(`system prompt replaced (${(replay.request.system ?? '').length} → ${options.systemPrompt.length} characters)`);
  }
  if (options.strategy !== undefined) {
    request = applyStrategy(options.strategy, request);
    changes.push(`context strategy ${options.strategy}`);
  }
  if (options.transform !== undefined) {
    request = options.transform(request);
    changes.push('request transformed');
  }
  if (model.provider !== replay.provider || model.modelId !== replay.model) changes.push(`model ${replay.provider}:${replay.model} → ${model.provider}:${model.modelId}`);

  const gateway = createGateway(model, { maxRetries: options.maxRetries ?? 2, clock: options.clock ?? systemClock });
  const { response, latencyMs } = await gateway.call(request, { signal: options.signal ?? new AbortController().signal, streaming: false });
  const costUsd = costOf(model.provider, response.model, response.usage, options.prices);
  return {
    replay,
    request,
    changes,
    original: replay.response,
    counterfactual: response,
    provider: model.provider,
    costUsd,
    latencyMs,
    differences: compareOutcomes(replay.response, response, costUsd),
  };
}

function resolveModel(options: CounterfactualOptions, events: readonly SessionEvent[]): Model {
  if (options.model !== undefined && typeof options.model !== 'string') return options.model;
  const start = events[0];
  const spec = options.model ?? (start?.type === 'session-start' ? start.model.spec : undefined);
  if (spec === undefined) {
    throw new KeelError('invalid-argument', `Session ${options.sessionId} did not record a model spec at its start; name the model for the counterfactual with --model.`, { details: { sessionId: options.sessionId } });
  }
  return createModelFromSpec(spec, { env: options.env ?? process.env, cwd: options.cwd ?? process.cwd() });
}

/**
 * Named context strategies for counterfactuals, to test "would a different context assembly change the decision":
 * - `window:N` keeps the task (first message) and about the last N messages, widened back to an assistant message so no tool result loses its call;
 * - `elide-tool-results` replaces every tool result's content with a one-line placeholder;
 * - `no-tools` offers the model no tools.
 */
export const contextStrategies = ['window:N', 'elide-tool-results', 'no-tools'] as const;

export function applyStrategy(strategy: string, request: ModelRequest): ModelRequest {
  const window = /^window:(\d+)$/.exec(strategy);
  if (window !== null) return slidingWindow(request, Number(window[1]));
  if (strategy === 'elide-tool-results') {
    return {
      ...request,
      messages: request.messages.map((message) => ({
        ...message,
        content: message.content.map((block): ContentBlock => (block.type === 'tool_result' ? { ...block, content: `[tool result elided: ${block.content.length} characters]` } : block)),
      })),
    };
  }
  if (strategy === 'no-tools') return { ...request, tools: [] };
  throw new KeelError('invalid-argument', `Unknown context strategy "${strategy}"; use one of ${contextStrategies.join(', ')}.`, { details: { strategy } });
}

function slidingWindow(request: ModelRequest, size: number): ModelRequest {
  if (!(size >= 1)) throw new KeelError('invalid-argument', `window:N needs N ≥ 1, got ${size}.`);
  const messages = request.messages;
  if (messages.length <= size + 1) return request;
  // After the task (a user message) the window must open on an assistant message, so that roles alternate
  // and no tool result loses the tool_use it answers: widen it back to the nearest one.
  let start = messages.length - size;
  while (start > 1 && messages[start]?.role !== 'assistant') start -= 1;
  if (start <= 1) return request;
  const first = messages[0];
  return { ...request, messages: [...(first === undefined ? [] : [first]), ...messages.slice(start)] };
}

interface ToolCallSummary {
  readonly name: string;
  readonly input: string;
}

function toolCalls(content: readonly ContentBlock[]): ToolCallSummary[] {
  return content.flatMap((block) => (block.type === 'tool_use' ? [{ name: block.name, input: canonicalJson(block.input) }] : []));
}

function textOf(content: readonly ContentBlock[]): string {
  return content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
}

/** At most this many changed text lines are listed. */
const maxTextLines = 12;

/** Stop reason, tool calls (names and inputs), text (a short line diff), usage and cost, original first. */
export function compareOutcomes(original: ModelResponseEvent | null, counterfactual: ModelResponse, counterfactualCost: number | null): string[] {
  if (original === null) return ['the original turn has no journaled response (the session stopped before it arrived); nothing to compare against'];
  const differences: string[] = [];
  if (original.stopReason !== counterfactual.stopReason) differences.push(`stop reason: ${original.stopReason} → ${counterfactual.stopReason}`);
  if (original.model !== counterfactual.model) differences.push(`model: ${original.model} → ${counterfactual.model}`);

  const before = toolCalls(original.content);
  const after = toolCalls(counterfactual.content);
  const unmatched = [...after];
  const removed: ToolCallSummary[] = [];
  for (const call of before) {
    const index = unmatched.findIndex((candidate) => candidate.name === call.name && candidate.input === call.input);
    if (index === -1) removed.push(call);
    else unmatched.splice(index, 1);
  }
  if (removed.length > 0 || unmatched.length > 0) {
    const names = (calls: readonly ToolCallSummary[]): string => (calls.length === 0 ? 'none' : calls.map((call) => call.name).join(', '));
    differences.push(`tool calls: [${names(before)}] → [${names(after)}]`);
    for (const call of removed) differences.push(`- tool call ${call.name} ${call.input}`);
    for (const call of unmatched) differences.push(`+ tool call ${call.name} ${call.input}`);
  }

  const textBefore = textOf(original.content);
  const textAfter = textOf(counterfactual.content);
  if (textBefore !== textAfter) {
    const changed = diffLines(textBefore.split('\n'), textAfter.split('\n')).filter((line) => line.op !== ' ');
    differences.push(`text: ${textBefore.length} → ${textAfter.length} characters`);
    for (const line of changed.slice(0, maxTextLines)) differences.push(`${line.op} ${truncate(line.text, 160)}`);
    if (changed.length > maxTextLines) differences.push(`  … ${changed.length - maxTextLines} more changed line(s)`);
  }

  const usage = usageDifferences(original.usage, counterfactual.usage);
  if (usage !== null) differences.push(usage);
  if (!sameCost(original.costUsd, counterfactualCost)) differences.push(`cost: ${formatCost(original.costUsd)} → ${formatCost(counterfactualCost)}`);
  return differences;
}

function usageDifferences(before: Usage, after: Usage): string | null {
  const fields: [keyof Usage, string][] = [
    ['inputTokens', 'input'],
    ['outputTokens', 'output'],
    ['cacheReadTokens', 'cache read'],
    ['cacheWriteTokens', 'cache write'],
  ];
  const changed = fields.filter(([field]) => before[field] !== after[field]).map(([field, name]) => `${name} ${before[field]} → ${after[field]}`);
  return changed.length === 0 ? null : `usage: ${changed.join(', ')}`;
}

function sameCost(a: number | null, b: number | null): boolean {
  return a === null || b === null ? a === b : Math.abs(a - b) < 1e-12;
}

function formatCost(cost: number | null): string {
  return cost === null ? 'unpriced' : `$${cost.toFixed(6)}`;
}

function truncate(text: string, length: number): string {
  return text.length <= length ? text : `${text.slice(0, length - 1)}…`;
}
