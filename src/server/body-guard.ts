import type { MiddlewareHandler } from 'hono';
import { ApiProblem } from './api-problem.ts';
import { hasRole } from './api-keys.ts';
import type { ServerEnv } from './server-context.ts';

/**
 * Deepest nesting of arrays and objects a request body may have. Real bodies (a task, a budget, a tool's edited
 * input) nest a few levels; a deeper one only costs parse time and stack, and could not be journaled.
 */
export const maxBodyDepth = 64;

const quote = 0x22;
const backslash = 0x5c;
const openers = new Set([0x5b, 0x7b]);
const closers = new Set([0x5d, 0x7d]);

/**
 * The depth at which `text` first nests deeper than `limit` (outside strings), or null when it never does.
 * One linear pass, no recursion: it runs before JSON.parse so a hostile body costs only the scan.
 */
export function nestingBeyond(text: string, limit: number): number | null {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === backslash) index += 1;
      else if (code === quote) inString = false;
    } else if (code === quote) {
      inString = true;
    } else if (openers.has(code)) {
      depth += 1;
      if (depth > limit) return depth;
    } else if (closers.has(code) && depth > 0) {
      depth -= 1;
    }
  }
  return null;
}

/**
 * Runs after authentication and before any route parses a body. Every /v1 route that takes a body needs `run`,
 * `approve` or `admin`, so a key with only `read` is refused before its body is read; then the body is scanned once
 * and refused with 400 when it nests deeper than {@link maxBodyDepth}.
 */
export function guardRequestBodies(): MiddlewareHandler<ServerEnv> {
  return async (c, next) => {
    if (c.req.raw.body === null) return next();
    const principal = c.get('principal');
    if (!(['run', 'approve', 'admin'] as const).some((role) => hasRole(principal, role))) {
      throw new ApiProblem({ status: 403, code: 'forbidden', message: `This key (${principal.keyId}) has only the "read" role, and no route it may call takes a request body; ask an admin for a key with the role the route needs.` });
    }
    // Hono keeps the text, so the route's own validator parses it from this cache without reading the stream again.
    const depth = nestingBeyond(await c.req.text(), maxBodyDepth);
    if (depth !== null) {
      throw new ApiProblem({ status: 400, code: 'invalid-request', message: `The request body nests arrays and objects more than ${maxBodyDepth} levels deep; send a flatter body.` });
    }
    return next();
  };
}
