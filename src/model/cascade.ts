import { KeelError } from '../errors/index.ts';
import type { ModelAttemptRecord } from '../spec/model-call.ts';
import type { Model, ModelRequest, ModelResponse } from '../spec/model.ts';
import type { Usage } from '../spec/usage.ts';
import type { GatewayOptions } from './gateway.ts';
import { withAttempts } from './model-router.ts';
import { costOf } from './pricing.ts';
import { gatewayFor } from './route-types.ts';
import type { RoutedCallOptions, RoutedCallResult, RoutedModel } from './route-types.ts';
import { routedModelMethods } from './routed-stream.ts';

/** A check a cascade stage's answer must pass; a failing check sends the request to the next, larger stage. */
export interface CascadeCheck {
  /** Journaled as the escalation's reason, `check:<name>`. */
  readonly name: string;
  passes(response: ModelResponse, request: ModelRequest): boolean;
}

/** The largest confidence statement a check reads: the last 200 characters of the answer's text. */
const confidenceTail = 200;

/** Checks for the usual signs that a small model was out of its depth. */
export const cascadeChecks = {
  /** Fails when the answer was cut (max_tokens), refused, or filtered. */
  completed(): CascadeCheck {
    return { name: 'completed', passes: (response) => !['max_tokens', 'refusal', 'content_filter', 'context_window_exceeded'].includes(response.stopReason) };
  },
  /** Fails when a tool call has arguments that are not valid JSON, over the limits, or names a tool the request does not offer. */
  validToolCalls(): CascadeCheck {
    return {
      name: 'valid-tool-calls',
      passes: (response, request) => {
        const offered = new Set(request.tools.map((tool) => tool.name));
        return response.content.every((block) => block.type !== 'tool_use' || (block.malformedInput === undefined && block.oversizedInput === undefined && offered.has(block.name)));
      },
    };
  },
  /**
   * The model's own confidence: the agent's instructions ask it to end its answer with `Confidence: 0.8` (0 to 1, or a
   * percentage); an answer below `min`, or a text answer without the statement, fails. Tool-call turns pass.
   */
  confidence(options: { readonly min: number }): CascadeCheck {
    return {
      name: 'confidence',
      passes: (response) => {
        if (response.content.some((block) => block.type === 'tool_use')) return true;
        const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
        const stated = statedConfidence(text.slice(-confidenceTail));
        return stated !== undefined && stated >= options.min;
      },
    };
  },
};

/** `Confidence: 0.72`, `confidence = 72%`: the last such statement in the text, as a fraction. */
export function statedConfidence(text: string): number | undefined {
  let found: number | undefined;
  for (const match of text.matchAll(/confidence\s*[:=]\s*(\d{1,3}(?:\.\d{1,4})?)\s*(%?)/gi)) {
    const value = Number(match[1]) / (match[2] === '%' ? 100 : 1);
    if (value >= 0 && value <= 1) found = value;
  }
  return found;
}

export interface CascadeOptions {
  /** The cascade's name: its `modelId` in the journal. */
  readonly name: string;
  /** From the smallest (cheapest) to the largest; each a Model or a route. */
  readonly stages: readonly Model[];
  /** Every check must pass for a stage's answer to be used; the last stage's answer is used whatever they say. */
  readonly checks: readonly CascadeCheck[];
  /** USD of a stage's usage, for the escalated attempts; defaults to the list prices. */
  readonly price?: (usage: Usage, provider: string, modelId: string) => number | null;
  /** Options of the gateway a plain Model stage is wrapped in. */
  readonly gateway?: GatewayOptions;
}

/**
 * A cascade: the request goes to the smallest stage first; when its answer fails a check it goes to the next, larger
 * stage. The answers not used were billed, so they are reported as `escalated` attempts with their usage and cost,
 * which the session's cost includes. Streaming parts are passed on only from the last stage, or from a stage whose
 * answer is then used (a display may show a small stage's answer before it is replaced).
 * @example
 * ```ts
 * const answerer = createCascade({
 *   name: 'answer',
 *   stages: [createAnthropicModel({ modelId: 'claude-haiku-4-5' }), createAnthropicModel({ modelId: 'claude-sonnet-4-6' })],
 *   checks: [cascadeChecks.completed(), cascadeChecks.validToolCalls(), cascadeChecks.confidence({ min: 0.7 })],
 * });
 * ```
 */
export function createCascade(options: CascadeOptions): RoutedModel {
  if (options.stages.length < 2) throw new KeelError('invalid-config', `Cascade '${options.name}' needs at least two stages, from the smallest model to the largest.`);
  const stages = options.stages.map((stage) => gatewayFor(stage, options.gateway ?? {}));
  const price = options.price ?? ((usage, provider, modelId) => costOf(provider, modelId, usage));

  async function call(request: ModelRequest, callOptions: RoutedCallOptions): Promise<RoutedCallResult> {
    const escalated: ModelAttemptRecord[] = [];
    let retries = 0;
    let latencyMs = 0;
    for (const [index, stage] of stages.entries()) {
      const last = index === stages.length - 1;
      let result: RoutedCallResult;
      try {
        result = await stage.call(request, { ...callOptions, ...(last ? {} : { onPart: undefined }) });
      } catch (thrown) {
        const error = thrown as KeelError;
        const earlier = Array.isArray(error.details?.attempts) ? (error.details.attempts as ModelAttemptRecord[]) : [];
        throw withAttempts(error, [...escalated, ...earlier], retries, latencyMs + (typeof error.details?.latencyMs === 'number' ? error.details.latencyMs : 0));
      }
      retries += result.retries;
      latencyMs += result.latencyMs;
      const failed = last ? undefined : options.checks.find((check) => !check.passes(result.response, request));
      if (failed === undefined) {
        return { ...result, retries, latencyMs, attempts: [...escalated, ...(result.attempts ?? [])] };
      }
      const answered = result.attempts?.find((attempt) => attempt.outcome === 'answered');
      escalated.push(...(result.attempts ?? []).filter((attempt) => attempt !== answered), {
        account: answered?.account ?? result.account ?? stage.provider,
        provider: answered?.provider ?? stage.provider,
        model: result.response.model,
        outcome: 'escalated',
        reason: `check:${failed.name}`,
        latencyMs: result.latencyMs,
        ...(result.firstTokenMs === undefined ? {} : { firstTokenMs: result.firstTokenMs }),
        usage: result.response.usage,
        costUsd: price(result.response.usage, answered?.provider ?? stage.provider, result.response.model),
      });
    }
    throw new KeelError('internal', `Cascade '${options.name}' ended without an answer.`);
  }

  const largest = stages[stages.length - 1] as RoutedModel;
  return {
    ...routedModelMethods({ provider: largest.provider, modelId: options.name, call }),
    withGateway: (extra) => createCascade({ ...options, gateway: { ...options.gateway, ...extra } }),
  };
}

export interface TaskRouterOptions {
  readonly name: string;
  /** A model or route per task class (`plan`, `extract`, `answer`, …). */
  readonly routes: Readonly<Record<string, Model>>;
  /** The class of a call that names none and that `classify` does not place. */
  readonly defaultClass: string;
  /** Places a call the run did not class (by its tools, its length, its turn): a class of `routes`, or undefined. */
  readonly classify?: (request: ModelRequest) => string | undefined;
  readonly gateway?: GatewayOptions;
}

/**
 * Model routing by task class: each call goes to the model of its class, named by the run (`hints.taskClass`) or
 * found by `classify`, else the default class's.
 * @example
 * ```ts
 * const byTask = createTaskRouter({ name: 'by-task', defaultClass: 'answer', routes: { extract: haiku, answer: sonnet } });
 * ```
 */
export function createTaskRouter(options: TaskRouterOptions): RoutedModel {
  const routes = new Map(Object.entries(options.routes).map(([taskClass, model]) => [taskClass, gatewayFor(model, options.gateway ?? {})]));
  const fallback = routes.get(options.defaultClass);
  if (fallback === undefined) throw new KeelError('invalid-config', `Task router '${options.name}': the default class '${options.defaultClass}' has no route; the classes are ${[...routes.keys()].join(', ')}.`);

  async function call(request: ModelRequest, callOptions: RoutedCallOptions): Promise<RoutedCallResult> {
    const named = callOptions.hints?.taskClass ?? options.classify?.(request);
    const route = named === undefined ? fallback : routes.get(named);
    if (route === undefined) {
      throw new KeelError('invalid-argument', `Task router '${options.name}' has no route for task class '${named}'; the classes are ${[...routes.keys()].join(', ')}.`);
    }
    return route.call(request, callOptions);
  }

  return {
    ...routedModelMethods({ provider: fallback.provider, modelId: options.name, call }),
    withGateway: (extra) => createTaskRouter({ ...options, gateway: { ...options.gateway, ...extra } }),
  };
}
