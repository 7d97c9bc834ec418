import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { isKeelError } from '../errors/index.ts';
import { createTokenBucket } from '../security/token-bucket.ts';
import type { TokenBucket, TokenBucketLimit } from '../security/token-bucket.ts';
import { LruCache } from '../util/index.ts';
import { ApiProblem } from './api-problem.ts';
import type { ApiKeyStore } from './api-keys.ts';
import { keelCodeStatus } from './error-status.ts';
import type { ServerEnv } from './server-context.ts';

const bearer = /^Bearer[ \t]+([!-~]{1,512})[ \t]*$/i;

/** Every /v1 request carries a valid key: `Authorization: Bearer <key>`; anything else is 401. */
export function authenticate(keys: ApiKeyStore): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const match = bearer.exec(c.req.header('authorization') ?? '');
    const principal = match === null ? null : await keys.authenticate(match[1] as string);
    if (principal === null) {
      throw new ApiProblem({
        status: 401,
        code: 'unauthorized',
        message: match === null
          ? 'Send an API key: `Authorization: Bearer <key>`. `keel serve` printed the first admin key; an admin creates more with POST /v1/keys or `keel keys create`.'
          : 'This API key is unknown or revoked.',
      });
    }
    c.set('principal', principal);
    await next();
  };
}

/** Token buckets per key: bursts of `capacity` requests, `refillPerSecond` after that; over it, 429 with Retry-After. */
export function rateLimitPerKey(limit: TokenBucketLimit, now: () => number): MiddlewareHandler<ServerEnv> {
  // Bounded: a flood of distinct keys cannot grow it without end (each must have authenticated first anyway).
  const buckets = new LruCache<TokenBucket>(10_000);
  return async (c, next) => {
    const { keyId } = c.get('principal');
    const at = now();
    let bucket = buckets.get(keyId);
    if (bucket === undefined) {
      bucket = createTokenBucket(limit, at);
      buckets.set(keyId, bucket);
    }
    if (bucket.available(at) < 1) {
      const waitSeconds = Math.max(1, Math.ceil(bucket.waitForToken(at) / 1000));
      throw new ApiProblem({ status: 429, code: 'rate-limited', message: `Too many requests with key ${keyId}: at most ${limit.refillPerSecond} a second after a burst of ${limit.capacity}. Retry in ${waitSeconds} s.`, retryAfterSeconds: waitSeconds });
    }
    bucket.take(at);
    await next();
  };
}

/** One JSON line per request, after it is answered: id, method, path (no query), status, duration, key and tenant. */
export function logRequests(logger: Logger, now: () => number): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    const started = now();
    await next();
    const principal = c.get('principal') as ServerEnv['Variables']['principal'] | undefined;
    logger.info({
      requestId: c.get('requestId'),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: now() - started,
      ...(principal === undefined ? {} : { keyId: principal.keyId, tenant: principal.tenant }),
    }, 'request');
  };
}

/** Errors as JSON `{ error: { code, message, requestId } }` with the status from the one table of KeelError codes. */
export function errorResponse(error: unknown, c: Context<ServerEnv>, logger: Logger): Response {
  const requestId = c.get('requestId');
  let status: ContentfulStatusCode;
  let body: { code: string; message: string; details?: Readonly<Record<string, unknown>> };
  const headers: Record<string, string> = {};
  if (error instanceof ApiProblem) {
    status = error.status;
    body = { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) };
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(error.retryAfterSeconds);
    if (error.status === 401) headers['www-authenticate'] = 'Bearer realm="keel"';
  } else if (isKeelError(error)) {
    status = keelCodeStatus[error.code];
    body = { code: error.code, message: error.message };
    if (error.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterMs / 1000)));
    if (status >= 500) logger.error({ requestId, err: error }, 'request failed');
  } else if (error instanceof HTTPException) {
    status = error.status as ContentfulStatusCode;
    body = { code: status === 413 ? 'payload-too-large' : 'invalid-request', message: error.message || 'The request could not be read.' };
  } else {
    status = 500;
    body = { code: 'internal', message: `Internal error; the server log has the details under request id ${requestId}.` };
    logger.error({ requestId, err: error }, 'request failed');
  }
  return c.json({ error: { ...body, requestId } }, status, headers);
}
