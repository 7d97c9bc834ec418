import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as restate from '@restatedev/restate-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeelError, isKeelError } from '../../src/errors/index.ts';
import { defineAgent } from '../../src/loop/index.ts';
import { registerDeployment, serveRestate } from '../../src/restate/index.ts';
import type { RestateServer } from '../../src/restate/index.ts';
import { asRestateError, parseApproval, parseSessionRequest } from '../../src/restate/session-request.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { createScriptedModel } from '../../src/testing/index.ts';
import { startRestateServer } from '../helpers/restate-server.ts';
import type { RestateServerProcess } from '../helpers/restate-server.ts';

function refusal(action: () => unknown): KeelError {
  try {
    action();
  } catch (error) {
    if (isKeelError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('Restate request bodies are checked before they are used', () => {
  it('refuses a missing, non-object or mistyped run body as invalid-argument, naming what is wrong', () => {
    expect(refusal(() => parseSessionRequest(null, 's1'))).toMatchObject({ code: 'invalid-argument', retryable: false, message: expect.stringContaining('the body is empty') });
    expect(refusal(() => parseSessionRequest(undefined, 's1')).message).toContain('the body is empty');
    expect(refusal(() => parseSessionRequest('hello', 's1')).message).toContain('the body is a string, not an object');
    expect(refusal(() => parseSessionRequest([], 's1')).message).toContain('an array');
    expect(refusal(() => parseSessionRequest({ agent: 'echo', task: 5 }, 's1')).message).toMatch(/task: .*string/);
    expect(refusal(() => parseSessionRequest({ task: 'x' }, 's1')).message).toMatch(/agent: /);
    expect(refusal(() => parseSessionRequest({ agent: 'echo', task: 'x'.repeat((1 << 20) + 1) }, 's1')).message).toMatch(/task: /);
    expect(parseSessionRequest({ agent: 'echo', task: 'hi', extra: 1 }, 's1')).toEqual({ agent: 'echo', task: 'hi' });
    expect(parseSessionRequest({ agent: 'echo' }, 's1')).toEqual({ agent: 'echo' });
  });

  it('refuses a malformed approval the same way', () => {
    expect(refusal(() => parseApproval(null, 's1')).code).toBe('invalid-argument');
    expect(refusal(() => parseApproval({ callId: 'c1', approved: 'yes', approver: 'ada' }, 's1')).message).toMatch(/approved: /);
    expect(refusal(() => parseApproval({ callId: 'c1', approved: true, approver: '  ' }, 's1')).message).toMatch(/approver: /);
    expect(parseApproval({ callId: 'c1', approved: false, approver: 'ada', reason: 'no' }, 's1')).toEqual({ callId: 'c1', approved: false, approver: 'ada', reason: 'no' });
  });

  it('turns every Keel error that is not retryable into a TerminalError, and leaves retryable ones to Restate', () => {
    const invalid = asRestateError(restate, new KeelError('invalid-argument', 'bad body'));
    expect(invalid).toBeInstanceOf(restate.TerminalError);
    expect(invalid).toMatchObject({ message: 'invalid-argument: bad body', code: 400 });
    expect(asRestateError(restate, new KeelError('plan-invalid', 'no plan'))).toMatchObject({ code: 500, message: 'plan-invalid: no plan' });
    expect(asRestateError(restate, new KeelError('model-server-error', 'try later', { retryable: false }))).toBeInstanceOf(restate.TerminalError);
    const busy = new KeelError('session-busy', 'held');
    expect(asRestateError(restate, busy)).toBe(busy);
  });
});

describe('a bad run body on a real Restate server', () => {
  let directory: string;
  let server: RestateServerProcess;
  let endpoint: RestateServer;
  let keel: Keel;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'keel-restate-request-'));
    server = await startRestateServer(directory);
    keel = createKeel({ database: join(directory, 'keel.db'), model: createScriptedModel([{ content: [{ type: 'text', text: 'ok' }] }]), modelLimits: false });
    endpoint = await serveRestate({ agents: [defineAgent({ name: 'echo', instructions: 'Answer.', tools: [] })], keel, port: 0 });
    await registerDeployment({ adminUrl: server.adminUrl, endpointUrl: endpoint.url, force: true });
  }, 60_000);

  afterAll(async () => {
    await endpoint?.close();
    await server?.stop();
    await keel?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('fails the invocation at once with a 400 and the reason (no retry loop), and the session key stays usable', async () => {
    const call = (key: string, body: string | undefined) =>
      // The signal only stops a hung test: before the fix, Restate retried a TypeError forever and never answered.
      fetch(`${server.ingressUrl}/KeelSession/${key}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(25_000), ...(body === undefined ? {} : { body }) });
    for (const [key, body, reason] of [
      ['bad-null', 'null', 'the body is empty'],
      ['bad-none', undefined, 'the body is empty'],
      ['bad-task', '{"agent":"echo","task":5}', 'task: '],
    ] as const) {
      const response = await call(key, body);
      expect(response.status).toBe(400);
      expect(await response.text()).toContain(reason);
    }
    const ok = await call('bad-task', '{"agent":"echo","task":"hi"}');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'completed' });
  }, 60_000);
});
