import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { ModelAttemptRecord } from '../spec/model-call.ts';
import type { ModelRequest } from '../spec/model.ts';
import { backoffDelay, defaultBackoff, systemClock } from '../util/index.ts';
import type { BackoffOptions } from '../util/index.ts';
import { createCircuitBreaker } from './circuit-breaker.ts';
import type { CircuitBreaker, CircuitBreakerOptions, CircuitPermit } from './circuit-breaker.ts';
import { createGateway } from './gateway.ts';
import type { Gateway, GatewayOptions } from './gateway.ts';
import { LatencyWindow } from './latency-window.ts';
import { cancellationError } from './provider-errors.ts';
import { runAttempt } from './route-attempt.ts';
import type { AttemptReport, AttemptTarget } from './route-attempt.ts';
import { classifyRouteFailure, unsentParameters } from './route-failure.ts';
import { sessionGatewayOptions } from './route-types.ts';
import type { RouteEntry, RoutedCallOptions, RoutedCallResult, RoutedModel } from './route-types.ts';
import { routedModelMethods } from './routed-stream.ts';

/** Hedged requests: a second attempt to the next entry when the first has no first token within the route's p95. */
export interface HedgeOptions {
  /** The percentile of this route's first-token latencies that starts a hedge. Defaults to 95. */
  readonly percentile?: number;
  /** Latencies the route must have measured before it hedges. Defaults to 20. */
  readonly minSamples?: number;
  /** Never hedge sooner than this. Defaults to 50 ms. */
  readonly minDelayMs?: number;
}

export interface ModelRouterOptions {
  /** The route's name: its `modelId`, what the journal's `model-request` names. */
  readonly name: string;
  /** Tried in order (a weighted draw picks the first, when weights are given); at least one. */
  readonly entries: readonly RouteEntry[];
  /** Shared breakers (several routes over the same accounts should share one), or options for the route's own. */
  readonly circuitBreaker?: CircuitBreaker | CircuitBreakerOptions;
  /** Passes over the whole route when every entry failed with a failure worth retrying. Defaults to 5. */
  readonly rounds?: number;
  readonly backoff?: BackoffOptions;
  /** A pass never waits longer than this for a provider's `retry-after` or an open circuit. Defaults to 60 s. */
  readonly maxRoundWaitMs?: number;
  /** Hedged requests; off unless given. */
  readonly hedge?: HedgeOptions;
  /** Abandon an attempt without a first token after this long, and move on. Off unless given. */
  readonly firstTokenTimeoutMs?: number;
  /**
   * Options of each entry's gateway (tool-call bounds, the rate limiter); its retries are always 0, since the route moves
   * on instead, and its limiter account is the entry's `account`.
   */
  readonly gateway?: Omit<GatewayOptions, 'maxRetries'>;
  readonly clock?: Clock;
  readonly random?: () => number;
}

interface Slot {
  readonly entry: RouteEntry;
  readonly gateway: Gateway;
  readonly accountKey: string;
  readonly modelKey: string;
}

/**
 * A route: an ordered list of (account, model) entries. A call goes to the first entry whose circuits are closed; on a
 * 429, 529, 5xx, timeout, broken connection or account problem it moves to the next; when every entry failed it waits
 * (the shortest `retry-after`, or backoff) and makes another pass. Every attempt is reported with the reason the route
 * moved on, for the journal. Entries may cross providers: Keel's request is provider-neutral and each model translates
 * it to its own wire format.
 * @example
 * ```ts
 * const route = createModelRouter({
 *   name: 'support',
 *   entries: [
 *     { account: 'anthropic-main', model: createAnthropicModel({ modelId: 'claude-sonnet-4-6', apiKey: mainKey }) },
 *     { account: 'anthropic-backup', model: createAnthropicModel({ modelId: 'claude-sonnet-4-6', apiKey: backupKey }) },
 *     { account: 'openai', model: createOpenAIModel({ modelId: 'gpt-4.1', apiKey: openAIKey }) },
 *   ],
 *   hedge: { percentile: 95 },
 * });
 * const keel = createKeel({ models: { support: route }, model: 'support' });
 * ```
 */
export function createModelRouter(options: ModelRouterOptions): RoutedModel {
  return buildRouter(options, undefined);
}

/** Circuits and latencies outlive the per-run copies `withGateway` makes. */
interface RouteHealth {
  readonly breaker: CircuitBreaker;
  readonly latencies: LatencyWindow;
}

function buildRouter(options: ModelRouterOptions, health: RouteHealth | undefined): RoutedModel {
  if (options.entries.length === 0) throw new KeelError('invalid-config', `Route '${options.name}' has no entries; give at least one { account, model }.`);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const rounds = options.rounds ?? 5;
  if (!Number.isInteger(rounds) || rounds < 1) throw new KeelError('invalid-config', `Route '${options.name}': rounds must be a positive integer, got ${rounds}.`);
  const backoff = options.backoff ?? defaultBackoff;
  const maxRoundWaitMs = options.maxRoundWaitMs ?? 60_000;
  const breaker = health?.breaker ?? (options.circuitBreaker !== undefined && 'acquire' in options.circuitBreaker ? options.circuitBreaker : createCircuitBreaker({ clock, ...options.circuitBreaker }));
  const latencies = health?.latencies ?? new LatencyWindow();
  const slots: Slot[] = options.entries.map((entry) => {
    if (entry.weight !== undefined && !(entry.weight >= 0 && Number.isFinite(entry.weight))) {
      throw new KeelError('invalid-config', `Route '${options.name}': the weight of account '${entry.account}' must be a finite number >= 0, got ${entry.weight}.`);
    }
    return {
      entry,
      // Each entry's limiter buckets are its account's.
      gateway: createGateway(entry.model, { clock, ...options.gateway, account: entry.account, maxRetries: 0 }),
      accountKey: `account:${entry.account}`,
      modelKey: `model:${entry.model.provider}/${entry.model.modelId}`,
    };
  });
  const provider = new Set(slots.map((slot) => slot.entry.model.provider)).size === 1 ? (slots[0]?.entry.model.provider ?? 'routed') : 'routed';

  /** The listed order, or a weighted draw for the first entry followed by the others in listed order. */
  function order(): Slot[] {
    const weighted = slots.filter((slot) => (slot.entry.weight ?? 0) > 0);
    if (weighted.length === 0 || !slots.some((slot) => slot.entry.weight !== undefined)) return slots;
    const total = weighted.reduce((sum, slot) => sum + (slot.entry.weight ?? 0), 0);
    let draw = random() * total;
    const first = weighted.find((slot) => (draw -= slot.entry.weight ?? 0) < 0) ?? weighted[weighted.length - 1];
    return first === undefined ? slots : [first, ...slots.filter((slot) => slot !== first)];
  }

  /** Permits for the account and the model, or which circuit is open. */
  function clear(slot: Slot): AttemptTarget | { readonly open: 'account' | 'model' } {
    const account = breaker.acquire(slot.accountKey);
    if (account === null) return { open: 'account' };
    const model = breaker.acquire(slot.modelKey);
    if (model === null) {
      account.release();
      return { open: 'model' };
    }
    return { entry: slot.entry, gateway: slot.gateway, permits: [account, model] };
  }

  function hedgeDelay(): number | undefined {
    if (options.hedge === undefined) return undefined;
    if (latencies.count < (options.hedge.minSamples ?? 20)) return undefined;
    const p = latencies.percentile(options.hedge.percentile ?? 95);
    return p === undefined ? undefined : Math.max(options.hedge.minDelayMs ?? 50, p);
  }

  async function call(request: ModelRequest, callOptions: RoutedCallOptions): Promise<RoutedCallResult> {
    const { signal } = callOptions;
    const started = clock.monotonic();
    const attempts: ModelAttemptRecord[] = [];
    let lastError: KeelError | undefined;
    for (let round = 0; round < rounds; round += 1) {
      if (signal.aborted) throw withAttempts(cancellationError(signal), attempts, round, clock.monotonic() - started);
      const pass = order();
      const tried = new Set<Slot>();
      let waitMs: number | undefined;
      for (const slot of pass) {
        if (tried.has(slot)) continue;
        tried.add(slot);
        const cleared = clear(slot);
        if ('open' in cleared) {
          const key = cleared.open === 'account' ? slot.accountKey : slot.modelKey;
          attempts.push(record(slot, 'skipped', { reason: `circuit-open:${cleared.open}`, latencyMs: 0 }));
          lastError = breaker.lastError(key) ?? lastError;
          waitMs = Math.min(waitMs ?? Infinity, breaker.retryInMs(key));
          continue;
        }
        const nextHedgeTarget = (): AttemptTarget | null => {
          for (const candidate of pass) {
            if (tried.has(candidate)) continue;
            const target = clear(candidate);
            if ('open' in target) continue;
            tried.add(candidate);
            return target;
          }
          return null;
        };
        const reports = await runAttempt(
          { request, signal, streaming: callOptions.streaming, onPart: callOptions.onPart, deadlineAt: callOptions.deadlineAt, clock, hedgeAfterMs: hedgeDelay(), nextHedgeTarget, firstTokenTimeoutMs: options.firstTokenTimeoutMs, attemptBase: attempts.length },
          cleared,
        );
        const answered = settleReports(reports, attempts);
        if (answered !== undefined) {
          const { result, report } = answered;
          const unsent = unsentParameters(report.target.entry.model.provider, request);
          return {
            ...result,
            retries: attempts.filter((attempt) => attempt.outcome === 'failed').length,
            latencyMs: Math.round(clock.monotonic() - started),
            account: report.target.entry.account,
            attempts,
            ...(callOptions.streaming && report.firstTokenMs !== undefined ? { firstTokenMs: report.firstTokenMs } : {}),
            ...(unsent.length > 0 ? { unsentParameters: unsent } : {}),
          };
        }
        const failures = reports.flatMap((report) => (report.outcome.type === 'failed' ? [report.outcome.error] : []));
        for (const error of failures) {
          lastError = error;
          if (signal.aborted) throw withAttempts(cancellationError(signal, error), attempts, round, clock.monotonic() - started);
          if (!classifyRouteFailure(error).moveOn) throw withAttempts(error, attempts, round, clock.monotonic() - started);
          if (error.retryAfterMs !== undefined) waitMs = Math.min(waitMs ?? Infinity, error.retryAfterMs);
        }
      }
      if (round + 1 >= rounds) break;
      const delay = Math.min(maxRoundWaitMs, backoffDelay(round, waitMs === undefined || !Number.isFinite(waitMs) ? undefined : waitMs, backoff, random));
      try {
        await clock.sleep(delay, signal);
      } catch (reason) {
        throw withAttempts(cancellationError(signal, reason), attempts, round, clock.monotonic() - started);
      }
    }
    const error = lastError ?? new KeelError('model-server-error', `Route '${options.name}' had no entry to try.`);
    throw withAttempts(
      new KeelError(error.code, `${error.message} (route '${options.name}': ${attempts.length} attempt(s) over ${rounds} pass(es), every entry failed or had its circuit open)`, {
        cause: error,
        retryable: error.retryable,
        ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        details: error.details,
      }),
      attempts,
      rounds,
      clock.monotonic() - started,
    );
  }

  /** Journals each run, reports to the circuits, and returns the answer if one run gave it. */
  function settleReports(reports: readonly AttemptReport[], attempts: ModelAttemptRecord[]): { result: NonNullable<Extract<AttemptReport['outcome'], { type: 'answered' }>['result']>; report: AttemptReport } | undefined {
    let answered: ReturnType<typeof settleReports>;
    for (const report of reports) {
      const slot = slots.find((candidate) => candidate.entry === report.target.entry) as Slot;
      const [accountPermit, modelPermit] = report.target.permits as [CircuitPermit, CircuitPermit];
      const timing = { latencyMs: report.latencyMs, ...(report.firstTokenMs === undefined ? {} : { firstTokenMs: report.firstTokenMs }), ...(report.hedge ? { hedge: true } : {}) };
      if (report.firstTokenMs !== undefined && report.outcome.type !== 'cancelled') latencies.record(report.firstTokenMs);
      switch (report.outcome.type) {
        case 'answered':
          accountPermit.success();
          modelPermit.success();
          attempts.push(record(slot, 'answered', { ...timing, ...(reports.length > 1 ? { reason: 'hedge-won' } : {}) }));
          answered = { result: report.outcome.result, report };
          break;
        case 'cancelled':
          accountPermit.release();
          modelPermit.release();
          attempts.push(record(slot, 'cancelled', { ...timing, reason: 'hedge-lost' }));
          break;
        case 'failed': {
          const failure = classifyRouteFailure(report.outcome.error);
          if (failure.countsAgainst.account) accountPermit.failure(report.outcome.error);
          else accountPermit.release();
          if (failure.countsAgainst.model) modelPermit.failure(report.outcome.error);
          else modelPermit.release();
          attempts.push(record(slot, 'failed', { ...timing, reason: failure.reason, errorCode: report.outcome.error.code }));
          break;
        }
      }
    }
    return answered;
  }

  function record(slot: Slot, outcome: ModelAttemptRecord['outcome'], rest: Omit<ModelAttemptRecord, 'account' | 'provider' | 'model' | 'outcome'>): ModelAttemptRecord {
    return { account: slot.entry.account, provider: slot.entry.model.provider, model: slot.entry.model.modelId, outcome, ...rest };
  }

  return {
    ...routedModelMethods({ provider, modelId: options.name, call }),
    withGateway: (extra) => buildRouter({ ...options, gateway: { ...options.gateway, ...sessionGatewayOptions(extra) } }, { breaker, latencies }),
  };
}

/** The error a routed call gives up with, carrying its attempts and statistics for the `model-error` event. */
export function withAttempts(error: KeelError, attempts: readonly ModelAttemptRecord[], retries: number, latencyMs: number): KeelError {
  return new KeelError(error.code, error.message, {
    cause: error.cause ?? error,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    details: { ...error.details, retries, latencyMs: Math.round(latencyMs), attempts },
  });
}
