import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import { systemClock } from '../util/index.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Failures in a row that open the circuit. Defaults to 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit refuses calls before it lets probes through (half-open). Defaults to 30 s. */
  readonly openMs?: number;
  /** Probes that must succeed in a row, while half-open, to close the circuit; one at a time. Defaults to 1. */
  readonly halfOpenSuccesses?: number;
  readonly clock?: Clock;
  /** Every change of state, for logs and tests. */
  readonly onTransition?: (transition: CircuitTransition) => void;
}

export interface CircuitTransition {
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** The failure that opened (or reopened) the circuit. */
  readonly error?: KeelError;
}

/** A permit to call: report how the call ended with exactly one of these. */
export interface CircuitPermit {
  success(): void;
  failure(error: KeelError): void;
  /** The call ended without telling anything about the target (cancelled, a hedge that lost): frees a probe slot. */
  release(): void;
}

/**
 * Circuit breakers by key (`account:<name>`, `model:<provider>/<id>`): closed lets calls through and counts failures in
 * a row; at the threshold it opens and refuses calls for `openMs`; then half-open lets one probe through at a time,
 * which closes it after enough successes or opens it again on a failure.
 */
export interface CircuitBreaker {
  state(key: string): CircuitState;
  /** A permit, or null while the circuit is open (or half-open with its probe out). */
  acquire(key: string): CircuitPermit | null;
  /** Milliseconds until an open circuit lets a probe through; 0 when it would now. */
  retryInMs(key: string): number;
  /** The failure that opened the circuit, while it is open. */
  lastError(key: string): KeelError | undefined;
}

interface Circuit {
  state: CircuitState;
  failures: number;
  successes: number;
  openedAt: number;
  probeOut: boolean;
  lastError: KeelError | undefined;
}

/** Keys kept at most; the least recently used closed circuit is forgotten first (it holds nothing worth keeping). */
const maxCircuits = 10_000;

/**
 * Circuit breakers by key, to share between routes over the same accounts.
 * @example
 * ```ts
 * const breaker = createCircuitBreaker({ failureThreshold: 3, openMs: 20_000, onTransition: ({ key, from, to }) => console.warn(`${key}: ${from} -> ${to}`) });
 * const chat = createModelRouter({ name: 'chat', entries, circuitBreaker: breaker });
 * const summaries = createModelRouter({ name: 'summaries', entries, circuitBreaker: breaker });
 * ```
 */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const threshold = positiveInteger('failureThreshold', options.failureThreshold, 5);
  const needed = positiveInteger('halfOpenSuccesses', options.halfOpenSuccesses, 1);
  const openMs = options.openMs ?? 30_000;
  if (!(openMs >= 0) || !Number.isFinite(openMs)) throw new KeelError('invalid-config', `Circuit breaker openMs must be a finite number of milliseconds >= 0, got ${openMs}.`);
  const clock = options.clock ?? systemClock;
  const circuits = new Map<string, Circuit>();

  function circuit(key: string): Circuit {
    let found = circuits.get(key);
    if (found === undefined) {
      found = { state: 'closed', failures: 0, successes: 0, openedAt: 0, probeOut: false, lastError: undefined };
      if (circuits.size >= maxCircuits) forgetOneClosed();
    } else {
      circuits.delete(key);
    }
    circuits.set(key, found);
    // An open circuit whose time is up is half-open, whoever asks first.
    if (found.state === 'open' && clock.monotonic() - found.openedAt >= openMs) move(key, found, 'half-open');
    return found;
  }

  function forgetOneClosed(): void {
    for (const [key, candidate] of circuits) {
      if (candidate.state === 'closed') {
        circuits.delete(key);
        return;
      }
    }
  }

  function move(key: string, target: Circuit, to: CircuitState, error?: KeelError): void {
    const from = target.state;
    target.state = to;
    target.successes = 0;
    target.probeOut = false;
    if (to === 'open') target.openedAt = clock.monotonic();
    if (to === 'closed') {
      target.failures = 0;
      target.lastError = undefined;
    }
    if (from !== to) options.onTransition?.({ key, from, to, ...(error === undefined ? {} : { error }) });
  }

  function permit(key: string, target: Circuit, probe: boolean): CircuitPermit {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      if (probe) target.probeOut = false;
      return true;
    };
    return {
      success: () => {
        if (!settle()) return;
        if (target.state === 'half-open') {
          target.successes += 1;
          if (target.successes >= needed) move(key, target, 'closed');
        } else if (target.state === 'closed') {
          target.failures = 0;
        }
      },
      failure: (error) => {
        if (!settle()) return;
        target.lastError = error;
        if (target.state === 'half-open') {
          move(key, target, 'open', error);
          return;
        }
        if (target.state !== 'closed') return;
        target.failures += 1;
        if (target.failures >= threshold) move(key, target, 'open', error);
      },
      release: () => {
        settle();
      },
    };
  }

  return {
    state: (key) => circuit(key).state,
    acquire(key) {
      const target = circuit(key);
      if (target.state === 'closed') return permit(key, target, false);
      if (target.state === 'open' || target.probeOut) return null;
      target.probeOut = true;
      return permit(key, target, true);
    },
    retryInMs(key) {
      const target = circuit(key);
      return target.state === 'open' ? Math.max(0, Math.ceil(openMs - (clock.monotonic() - target.openedAt))) : 0;
    },
    lastError: (key) => circuits.get(key)?.lastError,
  };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new KeelError('invalid-config', `Circuit breaker ${name} must be a positive integer, got ${value}.`);
  return value;
}
