import { AsyncLocalStorage } from 'node:async_hooks';
import type { HeaderLookup } from './rate-limit-headers.ts';

/** Receives the headers of every HTTP response an SDK gets inside `observeResponseHeaders`. */
export type ResponseHeaderObserver = (headers: HeaderLookup, status: number) => void;

const observers = new AsyncLocalStorage<ResponseHeaderObserver>();

/**
 * Runs one provider call and hands the headers of its HTTP responses to `observer`. The SDKs keep response headers of
 * successful calls to themselves; the transport (`reportingFetch`) reports them to whoever is observing the current
 * asynchronous context, so calls running at the same time never see each other's headers.
 */
export function observeResponseHeaders<T>(observer: ResponseHeaderObserver, call: () => Promise<T>): Promise<T> {
  return observers.run(observer, call);
}

/** Hands one response's headers to whoever observes the current asynchronous context (Keel's direct clients call it). */
export function reportResponseHeaders(headers: HeaderLookup, status: number): void {
  const observer = observers.getStore();
  if (observer === undefined) return;
  try {
    observer(headers, status);
  } catch {
    // An observer's failure must never fail the call it observes.
  }
}

/** Wraps a fetch so that the rate-limit headers of its responses reach the gateway's limiter. */
export function reportingFetch(fetch: typeof globalThis.fetch): typeof globalThis.fetch {
  const reporting = async (input: Parameters<typeof globalThis.fetch>[0], init?: Parameters<typeof globalThis.fetch>[1]): Promise<Response> => {
    const response = await fetch(input, init);
    reportResponseHeaders(response.headers, response.status);
    return response;
  };
  return reporting as typeof globalThis.fetch;
}
