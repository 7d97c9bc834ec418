export { createId } from './ids.ts';
export { canonicalJson, sha256, hashValue } from './canonical-json.ts';
export { backoffDelay, parseRetryAfter, defaultBackoff } from './backoff.ts';
export type { BackoffOptions } from './backoff.ts';
export { systemClock, sleep } from './clock.ts';
export { linkedSignal } from './abort.ts';
export { LruCache } from './lru-cache.ts';
