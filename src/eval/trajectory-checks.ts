import { KeelError } from '../errors/index.ts';
import { canonicalJson } from '../util/index.ts';
import type { EvalCheck, EvalCheckContext, EvalCheckOutcome, TrajectoryCall } from './suite.ts';

/** Longest sequence compared by `trajectoryEfficiency` (the comparison is quadratic in it). */
const maxComparedCalls = 2_000;

function names(calls: readonly TrajectoryCall[]): string {
  if (calls.length === 0) return 'no tool calls';
  const shown = calls.slice(0, 12).map((call) => call.tool).join(' → ');
  return calls.length > 12 ? `${shown} → … (${calls.length} calls)` : shown;
}

/**
 * The model asked for `tool` (at least once, or exactly `times` times).
 * @example
 * ```ts
 * toolCalled('lookup_order')
 * toolCalled('search', { times: 2 })
 * ```
 */
export function toolCalled(tool: string, options: { readonly times?: number; readonly name?: string } = {}): EvalCheck {
  return {
    name: options.name ?? `called:${tool}`,
    kind: 'trajectory',
    evaluate({ toolCalls }) {
      const count = toolCalls.filter((call) => call.tool === tool).length;
      const passed = options.times === undefined ? count > 0 : count === options.times;
      const wanted = options.times === undefined ? 'at least once' : `${options.times} time${options.times === 1 ? '' : 's'}`;
      return { passed, detail: `${tool} called ${count} time${count === 1 ? '' : 's'} (wanted ${wanted}): ${names(toolCalls)}.` };
    },
  };
}

/**
 * A forbidden tool: the model never asked for it (even a call the pipeline denied fails this check).
 * @example
 * ```ts
 * toolNotCalled('delete_account')
 * ```
 */
export function toolNotCalled(tool: string, options: { readonly name?: string } = {}): EvalCheck {
  return {
    name: options.name ?? `not-called:${tool}`,
    kind: 'trajectory',
    evaluate({ toolCalls }) {
      const calls = toolCalls.filter((call) => call.tool === tool);
      if (calls.length === 0) return { passed: true, detail: `${tool} was never called.` };
      const executed = calls.filter((call) => call.executed).length;
      return { passed: false, detail: `${tool} was called ${calls.length} time${calls.length === 1 ? '' : 's'} (${executed} ran), first at turn ${calls[0]?.turn}.` };
    },
  };
}

/**
 * Order constraint: the tools appear in this order (other calls may come between them).
 * @example
 * ```ts
 * toolsInOrder(['lookup_order', 'refund_order'])
 * ```
 */
export function toolsInOrder(order: readonly string[], options: { readonly name?: string } = {}): EvalCheck {
  if (order.length < 2) throw new KeelError('invalid-config', 'toolsInOrder needs at least two tool names.');
  return {
    name: options.name ?? `order:${order.join('>')}`,
    kind: 'trajectory',
    evaluate({ toolCalls }) {
      let position = 0;
      for (const call of toolCalls) if (call.tool === order[position]) position += 1;
      if (position >= order.length) return { passed: true, detail: `${order.join(' → ')} in order.` };
      return { passed: false, detail: `Expected ${order.join(' → ')}; found only ${position === 0 ? 'none of it' : order.slice(0, position).join(' → ')} before ${order[position]} was missing: ${names(toolCalls)}.` };
    },
  };
}

/**
 * Argument predicate: every call of `tool` has input the predicate accepts (and there is at least one call, unless
 * `requireCall: false`).
 * @example
 * ```ts
 * toolArguments('refund_order', (input) => (input as { amount: number }).amount <= 100, { name: 'refund-under-100' })
 * ```
 */
export function toolArguments(tool: string, predicate: (input: unknown) => boolean, options: { readonly name?: string; readonly requireCall?: boolean } = {}): EvalCheck {
  return {
    name: options.name ?? `arguments:${tool}`,
    kind: 'trajectory',
    evaluate({ toolCalls }) {
      const calls = toolCalls.filter((call) => call.tool === tool);
      if (calls.length === 0) return { passed: options.requireCall === false, detail: `${tool} was never called.` };
      for (const call of calls) {
        let accepted: boolean;
        try {
          accepted = predicate(call.input);
        } catch (error) {
          return { passed: false, detail: `The predicate threw on ${tool} at turn ${call.turn}: ${error instanceof Error ? error.message : String(error)}` };
        }
        if (!accepted) return { passed: false, detail: `${tool} at turn ${call.turn} had arguments the predicate refused: ${preview(call.input)}.` };
      }
      return { passed: true, detail: `All ${calls.length} call${calls.length === 1 ? '' : 's'} of ${tool} had accepted arguments.` };
    },
  };
}

/**
 * At most `limit` tool calls in all, or of one tool.
 * @example
 * ```ts
 * maxToolCalls(6)
 * maxToolCalls(1, { tool: 'refund_order' })
 * ```
 */
export function maxToolCalls(limit: number, options: { readonly tool?: string; readonly name?: string } = {}): EvalCheck {
  if (!(Number.isInteger(limit) && limit >= 0)) throw new KeelError('invalid-config', `maxToolCalls needs a whole number >= 0, got ${limit}.`);
  return {
    name: options.name ?? (options.tool === undefined ? `max-calls:${limit}` : `max-calls:${options.tool}:${limit}`),
    kind: 'trajectory',
    evaluate({ toolCalls }) {
      const count = options.tool === undefined ? toolCalls.length : toolCalls.filter((call) => call.tool === options.tool).length;
      const what = options.tool === undefined ? 'tool calls' : `calls of ${options.tool}`;
      return { passed: count <= limit, detail: `${count} ${what} (at most ${limit}).` };
    },
  };
}

/**
 * No two calls of the same tool with the same arguments (compared as canonical JSON).
 * @example
 * ```ts
 * noRepeatedCalls()
 * ```
 */
export function noRepeatedCalls(options: { readonly name?: string } = {}): EvalCheck {
  return {
    name: options.name ?? 'no-repeated-calls',
    kind: 'trajectory',
    evaluate({ toolCalls }) {
      const seen = new Map<string, TrajectoryCall>();
      for (const call of toolCalls) {
        const key = `${call.tool}\u0000${canonicalJson(call.input ?? null)}`;
        const earlier = seen.get(key);
        if (earlier !== undefined) return { passed: false, detail: `${call.tool} was called twice with the same arguments (turns ${earlier.turn} and ${call.turn}): ${preview(call.input)}.` };
        seen.set(key, call);
      }
      return { passed: true, detail: `${toolCalls.length} calls, none repeated.` };
    },
  };
}

/**
 * Efficiency against the case's reference trajectory: the longest common subsequence of tool names divided by the
 * longer of the two sequences, so both extra and missing calls lower the score. Passes at `minimum` (default 0.75).
 * @example
 * ```ts
 * trajectoryEfficiency({ minimum: 0.8 })
 * ```
 */
export function trajectoryEfficiency(options: { readonly minimum?: number; readonly reference?: readonly string[]; readonly name?: string } = {}): EvalCheck {
  const minimum = options.minimum ?? 0.75;
  if (!(minimum >= 0 && minimum <= 1)) throw new KeelError('invalid-config', `trajectoryEfficiency minimum must be between 0 and 1, got ${minimum}.`);
  return {
    name: options.name ?? 'efficiency',
    kind: 'trajectory',
    evaluate(context: EvalCheckContext): EvalCheckOutcome {
      const reference = options.reference ?? context.reference;
      if (reference === null) return { passed: false, detail: 'No reference trajectory: give the case a reference (tool names in order) or pass one to trajectoryEfficiency.', error: { code: 'invalid-config', message: 'no reference trajectory' } };
      const actual = context.toolCalls.map((call) => call.tool).slice(0, maxComparedCalls);
      const expected = reference.slice(0, maxComparedCalls);
      const longest = Math.max(actual.length, expected.length);
      const score = longest === 0 ? 1 : commonSubsequence(actual, expected) / longest;
      return { passed: score >= minimum, score, detail: `Efficiency ${score.toFixed(2)} (minimum ${minimum}): ${actual.length} calls against a reference of ${expected.length} (${expected.join(' → ') || 'none'}).` };
    },
  };
}

/**
 * Budget used: the session's tokens (input + output + cache), cost, turns and latency stay within the given bounds.
 * @example
 * ```ts
 * budgetUsed({ maxTokens: 20_000, maxCostUsd: 0.05, maxTurns: 6 })
 * ```
 */
export function budgetUsed(limits: { readonly maxTokens?: number; readonly maxCostUsd?: number; readonly maxTurns?: number; readonly maxLatencyMs?: number; readonly name?: string }): EvalCheck {
  return {
    name: limits.name ?? 'budget',
    kind: 'trajectory',
    evaluate({ usage, costUsd, turns, latencyMs }) {
      const tokens = usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
      const over: string[] = [];
      if (limits.maxTokens !== undefined && tokens > limits.maxTokens) over.push(`${tokens} tokens > ${limits.maxTokens}`);
      if (limits.maxCostUsd !== undefined) {
        if (costUsd === null) over.push('cost unknown (the model has no price)');
        else if (costUsd > limits.maxCostUsd) over.push(`$${costUsd.toFixed(4)} > $${limits.maxCostUsd}`);
      }
      if (limits.maxTurns !== undefined && turns > limits.maxTurns) over.push(`${turns} turns > ${limits.maxTurns}`);
      if (limits.maxLatencyMs !== undefined && latencyMs > limits.maxLatencyMs) over.push(`${Math.round(latencyMs)} ms > ${limits.maxLatencyMs} ms`);
      const used = `${tokens} tokens, ${costUsd === null ? 'cost unknown' : `$${costUsd.toFixed(4)}`}, ${turns} turns`;
      return over.length === 0 ? { passed: true, detail: `Within budget: ${used}.` } : { passed: false, detail: `Over budget: ${over.join('; ')}.` };
    },
  };
}

/** Length of the longest common subsequence, in O(n·m) time and O(m) memory. */
export function commonSubsequence(first: readonly string[], second: readonly string[]): number {
  let previous = new Array<number>(second.length + 1).fill(0);
  for (const item of first) {
    const current = new Array<number>(second.length + 1).fill(0);
    for (let index = 1; index <= second.length; index += 1) {
      current[index] = item === second[index - 1] ? (previous[index - 1] ?? 0) + 1 : Math.max(previous[index] ?? 0, current[index - 1] ?? 0);
    }
    previous = current;
  }
  return previous[second.length] ?? 0;
}

function preview(value: unknown): string {
  const text = canonicalJson(value ?? null);
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}
