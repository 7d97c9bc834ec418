import { KeelError, toKeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { ModelRequest, ModelStreamPart } from '../spec/model.ts';
import { linkedSignal } from '../util/index.ts';
import type { CircuitPermit } from './circuit-breaker.ts';
import type { Gateway, GatewayCallResult } from './gateway.ts';
import type { RouteEntry } from './route-types.ts';

/** An entry cleared to be tried: its gateway and the circuit permits (account, model) it holds. */
export interface AttemptTarget {
  readonly entry: RouteEntry;
  readonly gateway: Gateway;
  readonly permits: readonly CircuitPermit[];
}

export interface AttemptContext {
  readonly request: ModelRequest;
  readonly signal: AbortSignal;
  readonly streaming: boolean;
  readonly onPart: ((part: ModelStreamPart, attempt: number) => void) | undefined;
  /** The session's deadline, for the limiter: a wait that cannot end before it fails at once. */
  readonly deadlineAt: number | null | undefined;
  readonly clock: Clock;
  /** Start a second attempt when the first has no first token after this long; undefined: never. */
  readonly hedgeAfterMs: number | undefined;
  /** The entry a hedge goes to, with its permits taken; null when none is available. */
  readonly nextHedgeTarget: () => AttemptTarget | null;
  /** Abandon an attempt that has no first token after this long (journaled as a timeout). */
  readonly firstTokenTimeoutMs: number | undefined;
  /** Attempts of this call before this one: live parts are numbered across the whole call. */
  readonly attemptBase: number;
}

/** How one attempt (of one or two run side by side) ended. */
export interface AttemptReport {
  readonly target: AttemptTarget;
  readonly hedge: boolean;
  readonly latencyMs: number;
  readonly firstTokenMs: number | undefined;
  readonly outcome: { readonly type: 'answered'; readonly result: GatewayCallResult } | { readonly type: 'failed'; readonly error: KeelError } | { readonly type: 'cancelled' };
}

interface Run {
  readonly target: AttemptTarget;
  readonly hedge: boolean;
  readonly started: number;
  readonly controller: AbortController;
  readonly dispose: () => void;
  firstTokenMs: number | undefined;
  report: AttemptReport | undefined;
  timeout: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Runs one attempt, and a hedge beside it when the first has produced no token within `hedgeAfterMs`. The first run to
 * produce a token is kept and the other is aborted: its tokens are never received, so they are never counted. Resolves
 * with a report per run once every run has settled.
 */
export function runAttempt(context: AttemptContext, primary: AttemptTarget): Promise<AttemptReport[]> {
  const runs: Run[] = [];
  let committed: Run | undefined;
  let hedgeTimer: ReturnType<typeof setTimeout> | undefined;

  return new Promise((resolve) => {
    const settle = (run: Run, outcome: AttemptReport['outcome']): void => {
      if (run.timeout !== undefined) clearTimeout(run.timeout);
      run.dispose();
      run.report = { target: run.target, hedge: run.hedge, latencyMs: Math.round(context.clock.monotonic() - run.started), firstTokenMs: run.firstTokenMs, outcome };
      // Every run started has settled: a hedge not yet started never will (a failed first attempt moves the route on).
      if (runs.every((candidate) => candidate.report !== undefined)) {
        if (hedgeTimer !== undefined) clearTimeout(hedgeTimer);
        resolve(runs.map((candidate) => candidate.report as AttemptReport));
      }
    };

    const commit = (run: Run): void => {
      if (committed !== undefined) return;
      committed = run;
      if (hedgeTimer !== undefined) clearTimeout(hedgeTimer);
      for (const other of runs) if (other !== run && other.report === undefined) other.controller.abort(hedgeLost());
    };

    const start = (target: AttemptTarget, hedge: boolean): void => {
      const controller = new AbortController();
      const linked = linkedSignal([context.signal, controller.signal]);
      const run: Run = { target, hedge, started: context.clock.monotonic(), controller, dispose: linked.dispose, firstTokenMs: undefined, report: undefined, timeout: undefined };
      runs.push(run);
      const firstToken = (): void => {
        if (run.firstTokenMs !== undefined) return;
        run.firstTokenMs = Math.round(context.clock.monotonic() - run.started);
        if (run.timeout !== undefined) clearTimeout(run.timeout);
        commit(run);
      };
      if (context.firstTokenTimeoutMs !== undefined) {
        const limit = context.firstTokenTimeoutMs;
        run.timeout = setTimeout(() => {
          if (run.firstTokenMs === undefined) controller.abort(new KeelError('model-timeout', `${target.entry.account} (${target.entry.model.modelId}) sent no first token within ${limit} ms; trying the route's next entry.`));
        }, limit);
      }
      const onPart = (part: ModelStreamPart): void => {
        firstToken();
        if (committed === run) context.onPart?.(part, context.attemptBase + runs.indexOf(run));
      };
      target.gateway.call(context.request, { signal: linked.signal, streaming: context.streaming, onPart, ...(context.deadlineAt === undefined ? {} : { deadlineAt: context.deadlineAt }) }).then(
        (result) => {
          // A plain (non-streaming) answer is its own first token.
          if (run.firstTokenMs === undefined) {
            run.firstTokenMs = Math.round(context.clock.monotonic() - run.started);
            commit(run);
          }
          if (committed !== run) {
            settle(run, { type: 'cancelled' });
            return;
          }
          settle(run, { type: 'answered', result });
        },
        (thrown: unknown) => {
          const lost = controller.signal.aborted && isHedgeLost(controller.signal.reason) && !context.signal.aborted;
          settle(run, lost ? { type: 'cancelled' } : { type: 'failed', error: toKeelError(controller.signal.aborted && !context.signal.aborted ? controller.signal.reason : thrown) });
        },
      );
    };

    start(primary, false);
    if (context.hedgeAfterMs !== undefined) {
      hedgeTimer = setTimeout(() => {
        hedgeTimer = undefined;
        if (committed !== undefined || runs.every((run) => run.report !== undefined) || context.signal.aborted) return;
        const target = context.nextHedgeTarget();
        if (target !== null) start(target, true);
      }, Math.max(0, context.hedgeAfterMs));
    }
  });
}

const hedgeLostMarker = Symbol('hedge-lost');

function hedgeLost(): KeelError {
  const error = new KeelError('cancelled', 'Another attempt of this call produced its first token first.');
  (error as unknown as Record<symbol, boolean>)[hedgeLostMarker] = true;
  return error;
}

function isHedgeLost(reason: unknown): boolean {
  return typeof reason === 'object' && reason !== null && (reason as Record<symbol, unknown>)[hedgeLostMarker] === true;
}
