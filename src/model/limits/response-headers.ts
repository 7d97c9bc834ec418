import { AsyncLocalStorage } from 'node:async_hooks';
import type { HeaderLookup } from './rate-limit-headers.ts';

/** Receives the headers of every HTTP response a call observed with `watchResponseHeaders` gets. */
export type ResponseHeaderObserver = (headers: HeaderLookup, status: number) => void;

/**
 * Observers by the signal a call is sent with. The signal travels with the call from the gateway down to the
 * transport anyway, so it names the call without an AsyncLocalStorage: on Node 20 and 22 a storage once entered turns
 * on promise hooks for every promise of the process, for good.
 */
const observersBySignal = new WeakMap<AbortSignal, ResponseHeaderObserver>();

/**
 * Only for the official SDKs, which send their requests with a signal of their own: their calls run inside this
 * storage (`observingResponseHeaders`), so `reportingFetch` still finds the call's observer. Never entered otherwise.
 */
const sdkObservers = new AsyncLocalStorage<ResponseHeaderObserver>();

/**
 * Hands the headers of the responses to the call sent with `signal` to `observer`, until the returned function is
 * called. Calls running at the same time have signals of their own, so they never see each other's headers.
 */
export function watchResponseHeaders(signal: AbortSignal, observer: ResponseHeaderObserver): () => void {
  observersBySignal.set(signal, observer);
  return () => {
    if (observersBySignal.get(signal) === observer) observersBySignal.delete(signal);
  };
}

/** Runs one provider call, handing the headers of its HTTP responses (sent with its signal) to `observer`. */
export async function observeResponseHeaders<T>(observer: ResponseHeaderObserver, signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  const unwatch = watchResponseHeaders(signal, observer);
  try {
    return await call();
  } finally {
    unwatch();
  }
}

/**
 * Runs an SDK call sent for `signal` so that `reportingFetch` reports its responses to the call's observer. The
 * storage is entered only when the call is observed (the gateway has a limiter).
 */
export function observingResponseHeaders<T>(signal: AbortSignal, call: () => Promise<T>): Promise<T> {
  const observer = observersBySignal.get(signal);
  return observer === undefined ? call() : sdkObservers.run(observer, call);
}

/** Hands one response's headers to the observer of the call sent with `signal` (Keel's direct clients call it). */
export function reportResponseHeaders(signal: AbortSignal | null | undefined, headers: HeaderLookup, status: number): void {
  const observer = (signal === null || signal === undefined ? undefined : observersBySignal.get(signal)) ?? sdkObservers.getStore();
  if (observer === undefined) return;
  try {
    observer(headers, status);
  } catch {
    // An observer's failure must never fail the call it observes.
  }
}

/**
 * Wraps a fetch so that the rate-limit headers of its responses reach the gateway's limiter. A model whose fetch is
 * called with the signal the gateway gave it is observed as it is; a client that sends with a signal of its own (the
 * official SDKs do) must make its call inside `observingResponseHeaders(signal, call)`, with the gateway's signal.
 */
export function reportingFetch(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  const reporting = async (input: Parameters<typeof globalThis.fetch>[0], init?: Parameters<typeof globalThis.fetch>[1]): Promise<Response> => {
    const response = await fetch(input, init);
    reportResponseHeaders(init?.signal, response.headers, response.status);
    return response;
  };
  return reporting as typeof globalThis.fetch;
}
