import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { KeelError } from '../../errors/index.ts';
import { createMemoryAuditLog } from '../../store/memory-audit-log.ts';
import { createMemoryBlobStore } from '../../store/memory-blob-store.ts';
import type { AuditLog, AuditRecord } from '../../store/audit-log.ts';
import { FakeClock } from '../../testing/fake-clock.ts';
import { sha256 } from '../../util/index.ts';
import { defineTool } from '../define-tool.ts';
import { compose } from '../pipeline/compose.ts';
import type { DecisionOutcome, ExecutionInvocation, ExecutionOutcome, ToolInvocation } from '../pipeline/tool-invocation.ts';
import { createAuditStage, createDenialAuditStage } from './audit.ts';
import { createSanitizeStage } from './sanitize.ts';

const tool = defineTool({ name: 'issue_refund', description: 'refund', input: z.object({ email: z.string(), amount: z.number() }), risk: 'irreversible', maxOutputChars: 30, execute: () => 'ok' });

function invocation(overrides: Partial<ExecutionInvocation> = {}): ExecutionInvocation {
  return {
    sessionId: 'ses_1',
    turn: 2,
    callId: 'call_7',
    idempotencyKey: 'idem_1',
    agent: { name: 'support', scopes: ['payments:refund'] },
    tool,
    input: { email: 'jane@example.com', amount: 40 },
    signal: new AbortController().signal,
    decision: { decision: 'ask', rule: 'risk:irreversible', reason: 'needs a person' },
    approval: { approver: 'ops@example.com', edited: true },
    ...overrides,
  };
}

async function records(log: AuditLog): Promise<AuditRecord[]> {
  const all: AuditRecord[] = [];
  for await (const record of log.read()) all.push(record);
  return all;
}

describe('audit stage', () => {
  it('records a successful call with redacted input, decision, approver and a digest of the output', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 15));
    const log = createMemoryAuditLog({ clock });
    const outcome: ExecutionOutcome = { ok: true, output: 'refund issued', latencyMs: 12.5 };
    expect(await createAuditStage({ log })(invocation(), async () => outcome)).toBe(outcome);
    const [record] = await records(log);
    expect(record).toMatchObject({
      seq: 1,
      at: Date.UTC(2026, 0, 15),
      sessionId: 'ses_1',
      turn: 2,
      callId: 'call_7',
      agent: 'support',
      tool: 'issue_refund',
      input: { email: '[REDACTED:email]', amount: 40 },
      decision: 'ask',
      rule: 'risk:irreversible',
      approver: 'ops@example.com',
      inputEdited: true,
      resultDigest: sha256('refund issued'),
      outputChars: 13,
      outputBlob: null,
      durationMs: 12.5,
      error: null,
      findings: [],
    });
    expect(await log.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('records a failed call with its code and a redacted message', async () => {
    const log = createMemoryAuditLog();
    const failure = new KeelError('tool-failed', 'payment API rejected card 4111 1111 1111 1111');
    await createAuditStage({ log })(invocation({ approval: null, decision: { decision: 'allow', rule: 'default', reason: '' } }), async () => ({ ok: false, error: failure, latencyMs: 3 }));
    const [record] = await records(log);
    expect(record).toMatchObject({
      approver: null,
      inputEdited: false,
      decision: 'allow',
      rule: 'default',
      resultDigest: null,
      outputChars: null,
      durationMs: 3,
      error: { code: 'tool-failed', message: 'payment API rejected card [REDACTED:card-number]' },
    });
  });

  it('records a call whose later stage threw, then rethrows', async () => {
    const log = createMemoryAuditLog();
    const bug = new Error('stage bug');
    await expect(createAuditStage({ log })(invocation(), async () => Promise.reject(bug))).rejects.toBe(bug);
    expect((await records(log))[0]?.error).toEqual({ code: 'internal', message: 'stage bug' });
  });

  it('keeps inputs as given when redaction is off', async () => {
    const log = createMemoryAuditLog();
    await createAuditStage({ log, redaction: false })(invocation(), async () => ({ ok: true, output: '', latencyMs: 1 }));
    expect((await records(log))[0]?.input).toEqual({ email: 'jane@example.com', amount: 40 });
  });

  it('does not run the tool when the log cannot be written', async () => {
    const log = createMemoryAuditLog();
    await log.close();
    const next = vi.fn(async (): Promise<ExecutionOutcome> => ({ ok: true, output: 'refund issued', latencyMs: 1 }));
    const outcome = await createAuditStage({ log })(invocation(), next);
    expect(next).not.toHaveBeenCalled();
    expect(outcome).toMatchObject({ ok: false, error: { code: 'storage-failure' } });
  });

  it('placed outside sanitize, records the sanitized output, its findings and blob, and sanitize\'s rejections', async () => {
    const log = createMemoryAuditLog();
    const blobs = createMemoryBlobStore();
    const outputs = ['customer jane@example.com was refunded 40 EUR today', 'PNG\u0000\u0000'];
    const execute = compose([createAuditStage({ log }), createSanitizeStage({ blobs })], async (): Promise<ExecutionOutcome> => ({ ok: true, output: outputs.shift()!, latencyMs: 5 }));

    const first = await execute(invocation());
    const second = await execute(invocation({ callId: 'call_8' }));
    const [truncated, rejected] = await records(log);

    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(truncated).toMatchObject({ resultDigest: sha256(first.output), outputChars: first.output.length, outputBlob: first.fullOutputBlob, findings: [{ type: 'email', count: 1 }] });
    expect(await blobs.get(first.fullOutputBlob!)).toBe('customer [REDACTED:email] was refunded 40 EUR today');
    expect(second).toMatchObject({ ok: false, error: { code: 'tool-output-rejected' } });
    expect(rejected).toMatchObject({ callId: 'call_8', resultDigest: null, error: { code: 'tool-output-rejected' } });
    expect(await log.verify()).toMatchObject({ ok: true, records: 2 });
  });
});

describe('denial audit stage', () => {
  const decideInvocation: ToolInvocation = { ...invocation(), input: { email: 'jane@example.com', amount: 4000 } };

  it('records denials with their rule and the code the model sees', async () => {
    const log = createMemoryAuditLog();
    const stage = createDenialAuditStage({ log });
    await stage(decideInvocation, async () => ({ decision: 'deny', rule: 'refund-limit', reason: 'Refunds over 1000 for jane@example.com need finance.' }));
    await stage(decideInvocation, async () => ({ decision: 'deny', rule: 'rate-limit:agent', reason: 'retry in 2.0 seconds' }));
    const [limit, rateLimit] = await records(log);
    expect(limit).toMatchObject({
      decision: 'deny',
      rule: 'refund-limit',
      input: { email: '[REDACTED:email]', amount: 4000 },
      error: { code: 'tool-denied', message: 'Refunds over 1000 for [REDACTED:email] need finance.' },
      durationMs: 0,
      resultDigest: null,
    });
    expect(rateLimit).toMatchObject({ rule: 'rate-limit:agent', error: { code: 'tool-rate-limited' } });
  });

  it('records nothing for calls that go on to execute or to a person', async () => {
    const log = createMemoryAuditLog();
    const stage = createDenialAuditStage({ log });
    const ask: DecisionOutcome = { decision: 'ask', rule: 'risk:irreversible', reason: 'a person decides' };
    expect(await stage(decideInvocation, async () => ask)).toBe(ask);
    await stage(decideInvocation, async () => ({ decision: 'allow', rule: 'default', reason: '' }));
    expect(await records(log)).toEqual([]);
  });
});
