import { KeelError, toKeelError } from '../../errors/index.ts';
import type { Clock } from '../../spec/clock.ts';
import type { ModelRequest } from '../../spec/model.ts';
import type { LimitCost, ProviderLimits, ProviderLimitStore, QueueLane } from '../../spec/provider-limits.ts';
import type { Usage } from '../../spec/usage.ts';
import { backoffDelay, createId, defaultBackoff, systemClock } from '../../util/index.ts';
import { cancellationError } from '../provider-errors.ts';
import { admissionCheck } from './admission.ts';
import type { AdmissionOptions, AdmissionRequest } from './admission.ts';
import { estimateCallCost, usageCost } from './estimate-cost.ts';
import { createMemoryLimitStore } from './memory-limit-store.ts';
import { queueTuning } from './queue-tuning.ts';
import { readRateLimitHeaders } from './rate-limit-headers.ts';
import type { HeaderLookup } from './rate-limit-headers.ts';
import { observeResponseHeaders } from './response-headers.ts';
import { formatWait, jitteredWait, longWaitError, readRetryAfter } from './retry-wait.ts';

export interface ModelLimiterOptions {
  /** Where buckets, queues and budgets live: in this process by default, or Redis (`createRedisLimitStore`). */
  readonly store?: ProviderLimitStore;
  /** Whether `close()` closes the store too. Default: only a store the limiter made itself. */
  readonly ownsStore?: boolean;
  /**
   * Limits per account name (an account is `provider` unless the gateway names it). Unconfigured limits are learned
   * from the provider's headers after the first response; a configured one that the headers show too high is lowered.
   */
  readonly accounts?: Readonly<Record<string, ProviderLimits>>;
  /** The longest a call waits in the queue (429s it absorbed included) before it fails `model-rate-limited`. Default 120 s. */
  readonly maxQueueWaitMs?: number;
  /** Without a session deadline, the longest `retry-after` waited out. Default 15 min. */
  readonly maxLongWaitMs?: number;
  /** Refusing new sessions: token budgets per window and a bound on the queue. */
  readonly admission?: AdmissionOptions;
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Told each time a call has waited in the queue, for tracing and metrics. */
  readonly onWait?: (wait: LimiterWait) => void;
}

export interface LimiterWait {
  readonly account: string;
  readonly lane: QueueLane;
  readonly waitedMs: number;
  /** 429s the provider answered and the limiter absorbed for this call. */
  readonly rateLimited: number;
}

/** One call through the limiter: the account it goes to, its request (for the estimate), and its lane. */
export interface LimitedCall {
  readonly account: string;
  readonly request: ModelRequest;
  readonly lane: QueueLane;
  /**
   * Ends the wait, and is the signal `send` gives its request: the transport reports the headers of the responses sent
   * with it to the limiter (`reportResponseHeaders`).
   */
  readonly signal: AbortSignal;
  /** The session's deadline in epoch milliseconds: a wait past it fails at once, saying how long it would be. */
  readonly deadlineAt?: number | null;
  /** Charged the call's tokens in its per-tenant budget. */
  readonly tenant?: string;
}

export interface LimitedResult<T> {
  readonly value: T;
  /** Time spent queued before the call was sent, waits after absorbed 429s included. */
  readonly queueWaitMs: number;
  readonly rateLimited: number;
}

export interface ModelLimiter {
  readonly store: ProviderLimitStore;
  /**
   * Queues the call in its lane until every bucket of the account holds its estimated cost, sends it, corrects the
   * buckets from its usage and the provider's headers, and absorbs the provider's 429s (re-queued after the wait it
   * asked for, with jitter), within the maximum queue wait and the session's deadline.
   */
  attempt<T>(call: LimitedCall, send: () => Promise<T>, usageOf: (value: T) => Usage): Promise<LimitedResult<T>>;
  /** Throws `admission-refused` (with `retryAfterMs`) when a new session should not start now. */
  admit(request: AdmissionRequest): Promise<void>;
  close(): Promise<void>;
}

/** Waiters woken when capacity comes back: the few nearest the head, who can use it; the rest keep their own time. */
const wakeBatch = 8;

interface Sleeper {
  readonly ticket: string;
  readonly position: number;
  wake(): void;
}

/** The one call sent to an account whose limits are not known yet. */
interface Probe {
  learned(): void;
  release(): void;
}

interface Observed {
  headers: HeaderLookup | undefined;
  status: number;
}

/**
 * The gateway's rate limiter: buckets per provider account (requests, input and output tokens per minute), a queue
 * with priority lanes in front of each account, and admission control for new sessions.
 * @example
 * ```ts
 * const limiter = createModelLimiter({ accounts: { anthropic: { requestsPerMinute: 50, inputTokensPerMinute: 30_000, outputTokensPerMinute: 8_000 } } });
 * const gateway = createGateway(model, { limiter, lane: { priority: 'interactive' } });
 * ```
 */
export function createModelLimiter(options: ModelLimiterOptions = {}): ModelLimiter {
  const store = options.store ?? createMemoryLimitStore();
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const maxQueueWaitMs = options.maxQueueWaitMs ?? 120_000;
  const maxLongWaitMs = options.maxLongWaitMs ?? 900_000;
  const limitsOf = (account: string): ProviderLimits => options.accounts?.[account] ?? {};
  // Accounts whose limits a response has shown (or shown to be absent), and the probe call running for the others.
  const knownAccounts = new Set<string>();
  const probes = new Map<string, Promise<void>>();
  const sleepers = new Map<string, Set<Sleeper>>();
  /** Wakes the sleepers granted while they slept, or else the few nearest the head. */
  const wake = (account: string, granted: readonly string[] = []): void => {
    const waiting = sleepers.get(account);
    if (waiting === undefined || waiting.size === 0) return;
    const chosen = granted.length > 0 ? [...waiting].filter((sleeper) => granted.includes(sleeper.ticket)) : [...waiting].sort((left, right) => left.position - right.position).slice(0, wakeBatch);
    for (const sleeper of chosen) {
      waiting.delete(sleeper);
      sleeper.wake();
    }
  };
  // A shared store tells every process (this one included) when capacity may be back; an in-process one cannot.
  const unwatch = store.watch?.(wake);
  const notify = (account: string, granted: readonly string[] = []): void => {
    if (unwatch === undefined) wake(account, granted);
  };

  /**
   * Sleeps until `delayMs` has passed or capacity may be back; only the caller's signal ends it with an error. A plain
   * timer rather than `clock.sleep` with a signal: a queue of a thousand waiters wakes thousands of times, and an
   * aborted signal per wake-up costs an exception object each.
   */
  function nap(call: LimitedCall, ticket: string, delayMs: number, position: number): Promise<void> {
    let waiting = sleepers.get(call.account);
    if (waiting === undefined) {
      waiting = new Set();
      sleepers.set(call.account, waiting);
    }
    const set = waiting;
    return new Promise<void>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        call.signal.removeEventListener('abort', onAbort);
        set.delete(sleeper);
      };
      const onAbort = (): void => {
        finish();
        reject(cancellationError(call.signal));
      };
      const sleeper: Sleeper = {
        ticket,
        position,
        wake: () => {
          finish();
          resolve();
        },
      };
      const timer = setTimeout(sleeper.wake, delayMs);
      if (call.signal.aborted) {
        onAbort();
        return;
      }
      call.signal.addEventListener('abort', onAbort, { once: true });
      set.add(sleeper);
    });
  }

  /** Waits for the call's turn; returns how long it waited. `budgetMs` is what remains of the maximum wait. */
  async function waitForTurn(call: LimitedCall, cost: LimitCost, budgetMs: number): Promise<number> {
    const ticket = createId('tkt', clock.now());
    const started = clock.monotonic();
    try {
      for (;;) {
        if (call.signal.aborted) throw cancellationError(call.signal);
        const result = await store.acquire({ account: call.account, ticket, lane: call.lane, cost, limits: limitsOf(call.account), now: clock.now() });
        const waited = clock.monotonic() - started;
        // Waiters this step granted while they slept claim their grant at once.
        if (result.grantedOthers.length > 0) notify(call.account, result.grantedOthers);
        if (result.granted) return waited;
        const untilDeadline = call.deadlineAt === undefined || call.deadlineAt === null ? Number.POSITIVE_INFINITY : call.deadlineAt - clock.now();
        if (result.waitMs > untilDeadline) throw longWaitError(undefined, result.waitMs, untilDeadline, call.deadlineAt);
        if (waited >= budgetMs) throw queueTimeout(call, waited, result.position, result.queueLength);
        const sleep = Math.min(jitteredWait(Math.min(result.waitMs, queueTuning.maxPollMs), random), budgetMs - waited + 1);
        await nap(call, ticket, Math.max(1, sleep), result.position);
      }
    } catch (error) {
      await store.cancel(call.account, ticket).catch(() => undefined);
      notify(call.account);
      throw error;
    }
  }

  async function afterCall(call: LimitedCall, observed: Observed, reserved: LimitCost, actual: LimitCost, blockForMs: number | undefined): Promise<void> {
    const now = clock.now();
    const readings = observed.headers === undefined ? {} : readRateLimitHeaders(observed.headers, now);
    await store.settle({ account: call.account, reserved, actual, now });
    notify(call.account);
    if (Object.keys(readings).length > 0 || blockForMs !== undefined) {
      await store.observe({ account: call.account, readings, ...(blockForMs === undefined ? {} : { blockForMs }), now });
    }
    const spent = actual.inputTokens + actual.outputTokens;
    if (spent > 0) await admissionCheck.spend(store, options.admission, call.tenant, spent, now);
  }

  return {
    store,

    async attempt<T>(call: LimitedCall, send: () => Promise<T>, usageOf: (value: T) => Usage): Promise<LimitedResult<T>> {
      const cost = estimateCallCost(call.request);
      const probeStarted = clock.monotonic();
      const probe = await probeFor(call);
      const probeWaitMs = clock.monotonic() - probeStarted;
      try {
        const result = await attemptLimited(call, cost, send, usageOf, probe);
        probe?.learned();
        return { ...result, queueWaitMs: Math.round(result.queueWaitMs + probeWaitMs) };
      } finally {
        probe?.release();
      }
    },

    admit: (request) => admissionCheck.admit(store, options.admission, request, { now: clock.now(), limits: limitsOf(request.account) }),

    async close(): Promise<void> {
      unwatch?.();
      if (options.ownsStore ?? options.store === undefined) await store.close();
    },
  };

  /**
   * An account with no configured limits and none learned yet gets one call at a time, until a response has told
   * the limiter its limits: a burst sent blind would be refused in bulk. Returns the probe the caller became, if any.
   */
  async function probeFor(call: LimitedCall): Promise<Probe | null> {
    if (hasConfiguredLimits(limitsOf(call.account))) return null;
    for (;;) {
      if (knownAccounts.has(call.account)) return null;
      const running = probes.get(call.account);
      if (running === undefined) break;
      await untilSettled(running, call.signal);
    }
    let release = (): void => undefined;
    const running = new Promise<void>((resolve) => (release = resolve));
    probes.set(call.account, running);
    return {
      learned: () => knownAccounts.add(call.account),
      release: () => {
        if (probes.get(call.account) === running) probes.delete(call.account);
        release();
      },
    };
  }

  /**
   * The probe's headers arrive before its body (a long stream may follow): the limits they show are stored at once
   * and the other calls let go, rather than held for the whole generation.
   */
  async function learnFromProbe(call: LimitedCall, probe: Probe, headers: HeaderLookup): Promise<void> {
    const now = clock.now();
    const readings = readRateLimitHeaders(headers, now);
    try {
      if (Object.keys(readings).length > 0) await store.observe({ account: call.account, readings, now });
      probe.learned();
    } finally {
      probe.release();
    }
  }

  async function attemptLimited<T>(call: LimitedCall, cost: LimitCost, send: () => Promise<T>, usageOf: (value: T) => Usage, probe: Probe | null): Promise<LimitedResult<T>> {
    let queueWaitMs = 0;
    // The maximum queue wait, plus every wait a provider's 429 asked for and the limiter accepted.
    let allowanceMs = maxQueueWaitMs;
    for (let rateLimited = 0; ; rateLimited += 1) {
      queueWaitMs += await waitForTurn(call, cost, allowanceMs - queueWaitMs);
      const observed: Observed = { headers: undefined, status: 0 };
      let value: T;
      try {
        value = await observeResponseHeaders((headers, status) => {
          observed.headers = headers;
          observed.status = status;
          if (probe !== null && status < 400) void learnFromProbe(call, probe, headers).catch(() => undefined);
        }, call.signal, send);
      } catch (thrown) {
        const error = toKeelError(thrown);
        const providerRefused = observed.status === 429 && error.code === 'model-rate-limited';
        // A refused request used nothing but its place in the request bucket; another failure may have read its input.
        const actual = providerRefused ? { ...cost, inputTokens: 0, outputTokens: 0, tokens: 0 } : { ...cost, outputTokens: 0, tokens: cost.inputTokens };
        const requested = providerRefused ? (readRetryAfter(observed.headers, clock.now()) ?? backoffDelay(rateLimited, undefined, defaultBackoff, random)) : undefined;
        await afterCall(call, observed, cost, actual, requested);
        if (!providerRefused || call.signal.aborted) throw error;
        checkRefusedWait(call, error, requested ?? 0, maxLongWaitMs, clock.now());
        allowanceMs += requested ?? 0;
        options.onWait?.({ account: call.account, lane: call.lane, waitedMs: Math.round(queueWaitMs), rateLimited: rateLimited + 1 });
        continue;
      }
      await afterCall(call, observed, cost, usageCost(usageOf(value)), undefined);
      if (queueWaitMs > 0) options.onWait?.({ account: call.account, lane: call.lane, waitedMs: Math.round(queueWaitMs), rateLimited });
      return { value, queueWaitMs: Math.round(queueWaitMs), rateLimited };
    }
  }
}

function hasConfiguredLimits(limits: ProviderLimits): boolean {
  return Object.values(limits).some((limit) => typeof limit === 'number' && limit > 0);
}

/** Resolves when `promise` settles, or rejects with the cancellation when the signal aborts first. */
function untilSettled(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(cancellationError(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => reject(cancellationError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.finally(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** After a 429: a wait past the session's deadline (or, without one, past the longest wait allowed) fails at once with its length. */
function checkRefusedWait(call: LimitedCall, error: KeelError, waitMs: number, maxLongWaitMs: number, now: number): void {
  if (call.deadlineAt !== undefined && call.deadlineAt !== null) {
    if (waitMs > call.deadlineAt - now) throw longWaitError(error, waitMs, call.deadlineAt - now, call.deadlineAt);
    return;
  }
  if (waitMs > maxLongWaitMs) throw longWaitError(error, waitMs, maxLongWaitMs, null);
}

function queueTimeout(call: LimitedCall, waitedMs: number, position: number, queueLength: number): KeelError {
  return new KeelError(
    'model-rate-limited',
    `The call waited ${formatWait(waitedMs)} in the rate-limit queue of account '${call.account}' (still ${position + 1} of ${queueLength}) and gave up at the maximum queue wait. Lower the number of sessions running at once, raise the account's limits, or raise modelLimits.maxQueueWaitMs.`,
    { details: { reason: 'queue-wait', account: call.account, waitedMs: Math.round(waitedMs), position, queueLength } },
  );
}
