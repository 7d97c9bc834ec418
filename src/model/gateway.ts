import { KeelError, toKeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import { defaultBackoff, linkedSignal, systemClock } from '../util/index.ts';
import type { BackoffOptions } from '../util/index.ts';
import { cancellationError } from './provider-errors.ts';
import { boundModelResponse, toolCallLimitsFrom } from './tool-arguments.ts';
import { planRetryWait, queueLane } from './limits/index.ts';
import type { ModelLimiter, SessionLane } from './limits/index.ts';
import type { ToolCallLimits } from '../util/index.ts';

export interface GatewayOptions {
  /** Retries after the first attempt. Defaults to 4. */
  readonly maxRetries?: number;
  readonly backoff?: BackoffOptions;
  /** Sleeps between attempts and measures latency; inject a fake one in tests. */
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly onRetry?: (retry: GatewayRetry) => void;
  /**
   * Bounds on the tool calls a response may carry (name length, argument bytes, nesting depth). A call over them is
   * kept as a bounded preview and refused by the tool pipeline; it never reaches the journal whole. Defaults:
   * 128 characters, 1 MiB, 64 levels.
   */
  readonly toolCallLimits?: Partial<ToolCallLimits>;
  /** Rate limits, priority queue and admission per provider account (`createModelLimiter`); none when not given. */
  readonly limiter?: ModelLimiter;
  /** The provider account this model's calls count against, for the limiter. Defaults to the model's provider. */
  readonly account?: string;
  /** The session this gateway serves: its priority, whether it was resumed, its tenant. */
  readonly lane?: SessionLane;
  /** Without a session deadline, the longest `retry-after` over a minute that is waited out. Default 15 min. */
  readonly maxLongWaitMs?: number;
}

export interface GatewayRetry {
  /** 1 for the first retry. */
  readonly retry: number;
  readonly delayMs: number;
  readonly error: KeelError;
}

export interface GatewayCallOptions {
  readonly signal: AbortSignal;
  readonly streaming: boolean;
  /**
   * Live parts of a streamed call, for display. After a failed attempt the call is re-issued whole, so the
   * parts of the next attempt start again from the beginning; `attempt` (0 for the first) tells them apart.
   */
  readonly onPart?: (part: ModelStreamPart, attempt: number) => void;
  /** The session's deadline (epoch milliseconds): a rate-limit wait that cannot end before it fails at once. */
  readonly deadlineAt?: number | null;
}

export interface GatewayCallResult {
  readonly response: ModelResponse;
  /** Attempts that failed and were retried before this response. */
  readonly retries: number;
  /** From the first attempt to the response, retries and their waits included. */
  readonly latencyMs: number;
  /** Time spent waiting in the limiter's queue (part of `latencyMs`); present when a limiter is configured. */
  readonly queueWaitMs?: number;
  /** Streamed calls: from the start of the answering attempt to its first part. */
  readonly firstTokenMs?: number;
}

/**
 * A model with retries. `call` is what the loop uses. A failure it gives up on is a KeelError whose
 * `details.retries` and `details.latencyMs` say how long it tried, for the journal's `model-error` event.
 */
export interface Gateway extends Model {
  call(request: ModelRequest, options: GatewayCallOptions): Promise<GatewayCallResult>;
}

/**
 * Retries what is retryable (rate limits, overload, server errors, cut streams, timeouts), waiting as long as
 * the provider asked (`retry-after`) or with capped exponential backoff, and stops at once when the signal
 * aborts, even mid-wait.
 * @example
 * ```ts
 * const gateway = createGateway(createAnthropicModel({ modelId: 'claude-sonnet-4-6' }), {
 *   maxRetries: 4,
 *   onRetry: ({ retry, delayMs, error }) => console.warn(`Retry ${retry} in ${delayMs} ms: ${error.message}`),
 * });
 * const { response, retries } = await gateway.call(
 *   { system: 'Answer in one sentence.', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is a journal?' }] }], tools: [], maxOutputTokens: 256 },
 *   { signal: AbortSignal.timeout(60_000), streaming: false },
 * );
 * ```
 */
export function createGateway(model: Model, options: GatewayOptions = {}): Gateway {
  const maxRetries = options.maxRetries ?? 4;
  const backoff = options.backoff ?? defaultBackoff;
  const clock: Clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const limits = toolCallLimitsFrom(options.toolCallLimits);
  // Every response and finish part is bounded before anyone else (the journal, part listeners) sees it.
  const bounded = (part: ModelStreamPart): ModelStreamPart => (part.type === 'finish' ? { ...part, response: boundModelResponse(part.response, limits) } : part);

  const account = options.account ?? model.provider;
  let started = false;

  /** Waits before retry number `retries + 1`, or returns the error to give up with. */
  async function waitBeforeRetry(error: KeelError, retries: number, signal: AbortSignal, deadlineAt?: number | null): Promise<KeelError | null> {
    if (signal.aborted) return cancellationError(signal, error);
    if (!error.retryable || retries >= maxRetries) return error;
    // Jitter on the provider's retry-after too, so callers refused together do not come back together; a wait over
    // a minute is waited out within the deadline, or the call fails at once saying how long it would be.
    const plan = planRetryWait({ error, retries, backoff, random, now: clock.now(), deadlineAt, maxLongWaitMs: options.maxLongWaitMs ?? 900_000 });
    if ('giveUp' in plan) return plan.giveUp;
    const delayMs = plan.delayMs;
    options.onRetry?.({ retry: retries + 1, delayMs, error });
    try {
      await clock.sleep(delayMs, signal);
    } catch (reason) {
      return cancellationError(signal, reason);
    }
    return null;
  }

  async function call(request: ModelRequest, callOptions: GatewayCallOptions): Promise<GatewayCallResult> {
    const { signal, streaming, onPart } = callOptions;
    const startedAt = clock.monotonic();
    const elapsed = (): number => Math.round(clock.monotonic() - startedAt);
    let queueWaitMs = 0;
    for (let retries = 0; ; retries += 1) {
      try {
        if (signal.aborted) throw cancellationError(signal);
        // Each attempt gets its own signal, released when it ends: both SDKs add an abort listener to the signal they
        // are given and never remove it, so handing them the caller's signal would keep one closure per attempt alive
        // (and a combined signal, such as AbortSignal.any, alive for good).
        const attempt = linkedSignal([signal]);
        try {
          let firstPartMs: number | null = null;
          const send = async (): Promise<ModelResponse> => {
            if (!streaming) return model.generate(request, attempt.signal);
            const sentAt = clock.monotonic();
            return collect(model.stream(request, attempt.signal), bounded, (part) => {
              firstPartMs ??= Math.round(clock.monotonic() - sentAt);
              onPart?.(part, retries);
            });
          };
          const firstToken = (): { firstTokenMs?: number } => (firstPartMs === null ? {} : { firstTokenMs: firstPartMs });
          if (options.limiter === undefined) {
            const response = boundModelResponse(await send(), limits);
            return { response, retries, latencyMs: elapsed(), ...firstToken() };
          }
          const lane = queueLane(options.lane, started);
          // After its first call, even a failed one, the session is running: its next calls go in a running lane.
          started = true;
          const limited = await options.limiter.attempt({ account, request, lane, signal: attempt.signal, deadlineAt: callOptions.deadlineAt ?? null, ...(options.lane?.tenant === undefined ? {} : { tenant: options.lane.tenant }) }, send, (response) => response.usage);
          queueWaitMs += limited.queueWaitMs;
          // A 429 the limiter absorbed is a failed attempt retried like any other: the journal counts it.
          return { response: boundModelResponse(limited.value, limits), retries: retries + limited.rateLimited, latencyMs: elapsed(), queueWaitMs, ...firstToken() };
        } finally {
          attempt.dispose();
        }
      } catch (thrown) {
        const giveUp = await waitBeforeRetry(toKeelError(thrown), retries, signal, callOptions.deadlineAt);
        if (giveUp !== null) throw withStatistics(giveUp, retries, elapsed());
      }
    }
  }

  return {
    provider: model.provider,
    modelId: model.modelId,
    // Counting is not retried: when it fails, the planner goes on with its estimate.
    ...(model.countTokens === undefined ? {} : { countTokens: model.countTokens }),
    call,

    async generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse> {
      return (await call(request, { signal, streaming: false })).response;
    },

    /** Retries only failures before the first part: parts already handed to a consumer cannot be taken back. */
    async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelStreamPart> {
      for (let retries = 0; ; retries += 1) {
        let yielded = false;
        const attempt = linkedSignal([signal]);
        try {
          for await (const part of model.stream(request, attempt.signal)) {
            yielded = true;
            yield bounded(part);
          }
          return;
        } catch (thrown) {
          const error = toKeelError(thrown);
          if (yielded) throw error;
          const giveUp = await waitBeforeRetry(error, retries, signal);
          if (giveUp !== null) throw giveUp;
        } finally {
          attempt.dispose();
        }
      }
    },
  };
}

async function collect(parts: AsyncIterable<ModelStreamPart>, bound: (part: ModelStreamPart) => ModelStreamPart, onPart: (part: ModelStreamPart) => void): Promise<ModelResponse> {
  for await (const raw of parts) {
    const part = bound(raw);
    onPart(part);
    if (part.type === 'finish') return part.response;
  }
  throw new KeelError('model-stream-cut', 'The model stream ended without a finish part; the call can be retried.');
}

function withStatistics(error: KeelError, retries: number, latencyMs: number): KeelError {
  return new KeelError(error.code, error.message, {
    cause: error,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    details: { ...error.details, retries, latencyMs },
  });
}
