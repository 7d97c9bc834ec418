import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { attachInvocation } from '../../src/restate/index.ts';

// An ingress that accepts the request and never answers, as an overloaded cluster does while a session runs.
let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

async function silentIngress(): Promise<string> {
  server = createServer((request) => request.resume());
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('attaching to a Restate invocation that does not finish in time', () => {
  it('fails as a deadline the caller can raise, not as a cluster that is missing', async () => {
    const ingressUrl = await silentIngress();
    const error: unknown = await attachInvocation({ ingressUrl, timeoutMs: 300 }, 'inv_1').then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(isKeelError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'deadline-exceeded', retryable: true, details: { timedOut: true, timeoutMs: 300 } });
    expect((error as Error).message).toContain('within 300 ms');
  });
});
