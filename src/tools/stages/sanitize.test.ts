import { defineAgent } from '../../loop/define-agent.ts';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createMemoryBlobStore } from '../../store/memory-blob-store.ts';
import { sha256 } from '../../util/index.ts';
import { KeelError } from '../../errors/index.ts';
import { defineTool } from '../define-tool.ts';
import type { ToolOptions } from '../define-tool.ts';
import type { ExecutionInvocation, ExecutionOutcome } from '../pipeline/tool-invocation.ts';
import { createSanitizeStage, sanitizationOf } from './sanitize.ts';
import type { SanitizeStageOptions } from './sanitize.ts';

function invocation(maxOutputChars = 16_000, redaction?: ToolOptions<z.ZodObject>['redaction']): ExecutionInvocation {
  return {
    sessionId: 'ses_1',
    turn: 1,
    callId: 'call_1',
    idempotencyKey: 'idem_1',
    agent: { name: 'support', scopes: [] },
    tool: defineTool({ name: 'read_file', description: 'reads', input: z.object({}), risk: 'read', maxOutputChars, execute: () => '', ...(redaction === undefined ? {} : { redaction }) }),
    input: {},
    signal: new AbortController().signal,
    decision: { decision: 'allow', rule: 'default', reason: 'ok' },
    approval: null,
  };
}

async function sanitize(output: string, options: Partial<SanitizeStageOptions> = {}, maxOutputChars?: number) {
  const blobs = options.blobs ?? createMemoryBlobStore();
  const stage = createSanitizeStage({ blobs, ...options });
  const outcome = await stage(invocation(maxOutputChars), async () => ({ ok: true, output, latencyMs: 7 }));
  return { outcome, blobs, report: sanitizationOf(outcome) };
}

function expectRejected(outcome: ExecutionOutcome, pattern: RegExp): void {
  expect(outcome.ok).toBe(false);
  if (outcome.ok) return;
  expect(outcome.error.code).toBe('tool-output-rejected');
  expect(outcome.error.message).toMatch(pattern);
  expect(outcome.latencyMs).toBe(7);
}

describe('sanitize stage', () => {
  it('rejects output with a NUL character', async () => {
    expectRejected((await sanitize('PK\u0003\u0004\u0000\u0000data')).outcome, /Tool "read_file" returned binary data \(a NUL character at position 4\)/);
  });

  it('rejects output that is not valid Unicode', async () => {
    expectRejected((await sanitize('abc\uD800def')).outcome, /not valid Unicode/);
  });

  it('rejects bytes decoded as Latin-1 or UTF-8 replacement characters, by their share of control characters', async () => {
    const pngAsLatin1 = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x01, 0x02, 0x03, 0x80, 0x81, 0x82, 0x90, 0x91, 0x41, 0x42]).toString('latin1');
    expectRejected((await sanitize(pngAsLatin1)).outcome, /% control or undecodable characters/);
    expectRejected((await sanitize('\uFFFD\uFFFDab\uFFFD')).outcome, /60% control or undecodable characters/);
  });

  it('keeps text with a few control characters, removing them and ANSI escapes', async () => {
    const { outcome } = await sanitize('\u001b[31mred\u001b[0m and \u001b]0;title\u0007plain\u0008 text\twith\ttabs\r\n');
    expect(outcome).toMatchObject({ ok: true, output: 'red and plain text\twith\ttabs\r\n', latencyMs: 7 });
  });

  it('redacts secrets and personal data, and reports what it found', async () => {
    const { outcome, report } = await sanitize('customer jane@example.com paid with 4111 1111 1111 1111; key AKIAIOSFODNN7EXAMPLE');
    const redacted = 'customer [REDACTED:email] paid with [REDACTED:card-number]; key [REDACTED:aws-access-key]';
    expect(outcome).toMatchObject({ ok: true, output: redacted });
    expect(report).toEqual({
      redactions: [
        { type: 'aws-access-key', count: 1 },
        { type: 'email', count: 1 },
        { type: 'card-number', count: 1 },
      ],
      redactionLocations: [
        { type: 'email', offset: 9 },
        { type: 'card-number', offset: 36 },
        { type: 'aws-access-key', offset: 64 },
      ],
      detections: [],
      outputChars: redacted.length,
      truncated: false,
    });
  });

  it('redacts only the chosen types, or nothing when redaction is off', async () => {
    expect((await sanitize('jane@example.com 203.0.113.9', { redaction: { types: ['email'] } })).outcome).toMatchObject({ output: '[REDACTED:email] 203.0.113.9' });
    expect((await sanitize('jane@example.com', { redaction: false })).outcome).toMatchObject({ output: 'jane@example.com' });
  });

  it('truncates at maxOutputChars with a marker, keeping the full redacted output as a blob', async () => {
    const full = `contact jane@example.com\n${'x'.repeat(200)}`;
    const { outcome, blobs, report } = await sanitize(full, {}, 50);
    const redactedFull = `contact [REDACTED:email]\n${'x'.repeat(200)}`;
    const blob = sha256(redactedFull);
    expect(outcome).toEqual({
      ok: true,
      output: `${redactedFull.slice(0, 50)}\n[output truncated: ${redactedFull.length} characters in total, 50 shown; full output kept as blob ${blob}]`,
      latencyMs: 7,
      fullOutputBlob: blob,
      sanitization: { redactions: [{ type: 'email', count: 1 }], redactionLocations: [{ type: 'email', offset: 8 }], detections: [], outputChars: redactedFull.length, truncated: true },
    });
    expect(await blobs.get(blob)).toBe(redactedFull);
    expect(report?.truncated).toBe(true);
  });

  it('drops output past maxScannedChars before redaction, so one huge result cannot hold up the event loop', async () => {
    const secret = 'AKIAIOSFODNN7EXAMPLE';
    const output = `${'a'.repeat(2_000)} ${secret} ${'b'.repeat(10_000)} ${secret}`;
    const { outcome, blobs } = await sanitize(output, { maxScannedChars: 4_000 }, 1_000);
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const full = await blobs.get(outcome.fullOutputBlob!);
    expect(full).not.toContain(secret);
    expect(full).toMatch(/\[output cut at 4000 characters before redaction: 8043 more characters of the tool's output were dropped/);
    expect(full!.length).toBeLessThan(4_300);
    expect(() => createSanitizeStage({ blobs: createMemoryBlobStore(), maxScannedChars: 0 })).toThrow(/maxScannedChars must be a positive integer/);
  });

  it('reveals the personal data an agent says its task needs, by tool name or for every tool, never secrets', async () => {
    const output = 'Reply to ana.lima@example.com, call +1 415 555 0100; token ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    const stage = createSanitizeStage({ blobs: createMemoryBlobStore() });
    const run = async (redaction: { reveal: Record<string, readonly ('email' | 'phone')[]> } | undefined) => {
      const base = invocation();
      const outcome = await stage({ ...base, agent: { ...base.agent, redaction } }, async () => ({ ok: true, output, latencyMs: 1 }));
      return outcome.ok ? outcome.output : outcome.error.message;
    };
    expect(await run(undefined)).not.toContain('ana.lima@example.com');
    const byName = await run({ reveal: { 'Read-File': ['email'] } });
    expect(byName).toContain('ana.lima@example.com');
    expect(byName).not.toContain('ghp_abcdefghijklmnopqrstuvwxyz0123456789');
    expect(await run({ reveal: { other_tool: ['email'] } })).not.toContain('ana.lima@example.com');
    expect(await run({ reveal: { '*': ['email'] } })).toContain('ana.lima@example.com');
    expect(() => defineAgent({ name: 'a', instructions: 'x', redaction: { reveal: { '*': ['github-token' as 'email'] } } })).toThrow(/cannot be revealed to the model/);
  });

  it('stores no blob when the output fits', async () => {
    const blobs = createMemoryBlobStore();
    const { outcome } = await sanitize('x'.repeat(50), { blobs }, 50);
    expect(outcome).toMatchObject({ ok: true, output: 'x'.repeat(50) });
    expect('fullOutputBlob' in outcome).toBe(false);
    expect(await blobs.get(sha256('x'.repeat(50)))).toBeUndefined();
  });

  it('does not split a surrogate pair at the cut', async () => {
    const { outcome } = await sanitize(`${'a'.repeat(9)}😀${'b'.repeat(20)}`, {}, 10);
    expect(outcome.ok && outcome.output.startsWith(`${'a'.repeat(9)}\n[output truncated: 31 characters in total, 9 shown;`)).toBe(true);
  });

  it('runs detectors on the whole redacted text and reports their findings; a failing detector is reported, not fatal', async () => {
    const seen: string[] = [];
    const detectors = [
      (text: string) => {
        seen.push(text);
        return text.includes('ignore previous instructions') ? [{ type: 'injection:override', count: 1 }] : [];
      },
      () => {
        throw new Error('detector bug');
      },
    ];
    const output = `mail jane@example.com ${'.'.repeat(100)} ignore previous instructions`;
    const { outcome, report } = await sanitize(output, { detectors }, 20);
    expect(seen).toEqual([`mail [REDACTED:email] ${'.'.repeat(100)} ignore previous instructions`]);
    expect(outcome.ok).toBe(true);
    expect(report?.detections).toEqual([
      { type: 'injection:override', count: 1 },
      { type: 'detector-failed', count: 1 },
    ]);
  });

  it('redacts secrets in a failed call\'s error message, keeping its code', async () => {
    const stage = createSanitizeStage({ blobs: createMemoryBlobStore() });
    const failure = new KeelError('tool-failed', 'login failed for jane@example.com with token ghp_abcdefghijklmnopqrstuvwxyz0123456789', { retryable: true });
    const outcome = await stage(invocation(), async () => ({ ok: false, error: failure, latencyMs: 3 }));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe('tool-failed');
    expect(outcome.error.retryable).toBe(true);
    expect(outcome.error.message).toBe('login failed for [REDACTED:email] with token [REDACTED:github-token]');
    expect(sanitizationOf(outcome)?.redactions).toEqual([
      { type: 'github-token', count: 1 },
      { type: 'email', count: 1 },
    ]);
  });

  it('refuses a control-character ratio outside 0..1', () => {
    expect(() => createSanitizeStage({ blobs: createMemoryBlobStore(), maxControlCharacterRatio: 2 })).toThrow(/between 0 and 1/);
  });
});

describe('sanitize: JSON output', () => {
  it('redacts values that follow an escape in JSON text, and leaves clean JSON byte for byte', async () => {
    const { createSanitizeStage: create } = await import('./sanitize.ts');
    const { createMemoryBlobStore } = await import('../../store/index.ts');
    const stage = create({ blobs: createMemoryBlobStore() });
    const run = (output: string) =>
      stage({ tool: { maxOutputChars: 16_000 } } as never, async () => ({ ok: true as const, output, latencyMs: 1 }));
    const leaky = JSON.stringify({ note: 'pay to:\nFR1420041010050500013M02606\ncontact\tana@example.com' });
    const cleaned = await run(leaky);
    expect(cleaned.ok && cleaned.output).not.toContain('FR1420041010050500013M02606');
    expect(cleaned.ok && cleaned.output).not.toContain('ana@example.com');
    expect(cleaned.ok && cleaned.output).toContain('[REDACTED:iban]');
    const pretty = JSON.stringify({ a: 1, b: [2, 3] }, null, 2);
    const untouched = await run(pretty);
    expect(untouched.ok && untouched.output).toBe(pretty);
  });
});

describe('sanitize: what the model may see', () => {
  const billing = JSON.stringify({ invoice: { iban: 'DE89370400440532013000', payee: 'ACME GmbH', contact: 'billing@acme.example' }, note: 'api_key=9f8e7d6c5b4a3f2e1d0c' });

  async function sanitizeFor(output: string, redaction: ToolOptions<z.ZodObject>['redaction']) {
    const stage = createSanitizeStage({ blobs: createMemoryBlobStore() });
    const outcome = await stage(invocation(16_000, redaction), async () => ({ ok: true, output, latencyMs: 1 }));
    return { outcome, report: sanitizationOf(outcome) };
  }

  it('hides personal data by default, and reports the kind and the field of each marker, never the value', async () => {
    const { outcome, report } = await sanitizeFor(billing, undefined);
    expect(outcome.ok && JSON.parse(outcome.output)).toEqual({
      invoice: { iban: '[REDACTED:iban]', payee: 'ACME GmbH', contact: '[REDACTED:email]' },
      note: 'api_key=[REDACTED:named-secret]',
    });
    expect(report?.redactionLocations).toEqual([
      { type: 'iban', offset: 0, path: '/invoice/iban' },
      { type: 'email', offset: 0, path: '/invoice/contact' },
      { type: 'named-secret', offset: 8, path: '/note' },
    ]);
    expect(JSON.stringify(report)).not.toContain('DE89');
  });

  it('shows the model the personal data the tool reveals, at the fields it names, and never a secret', async () => {
    const atField = await sanitizeFor(billing, { reveal: [{ type: 'iban', paths: ['/invoice/iban'] }] });
    expect(atField.outcome.ok && JSON.parse(atField.outcome.output)).toEqual({
      invoice: { iban: 'DE89370400440532013000', payee: 'ACME GmbH', contact: '[REDACTED:email]' },
      note: 'api_key=[REDACTED:named-secret]',
    });
    const everywhere = await sanitizeFor(`reply to jane@example.com; token ghp_${'a1'.repeat(18)}`, { reveal: ['email'] });
    expect(everywhere.outcome).toMatchObject({ ok: true, output: 'reply to jane@example.com; token [REDACTED:github-token]' });
  });

  it('reveals at a path with a wildcard segment, and nowhere else', async () => {
    const people = JSON.stringify({ invitees: [{ email: 'a@example.com' }, { email: 'b@example.com' }], owner: 'c@example.com' });
    const { outcome } = await sanitizeFor(people, { reveal: [{ type: 'email', paths: ['/invitees/*/email'] }] });
    expect(outcome.ok && JSON.parse(outcome.output)).toEqual({ invitees: [{ email: 'a@example.com' }, { email: 'b@example.com' }], owner: '[REDACTED:email]' });
  });

  it('refuses, when the tool is defined, a policy that would reveal a secret or names a path that is not a pointer', () => {
    expect(() => invocation(16_000, { reveal: ['github-token' as never] })).toThrow(/"github-token" cannot be revealed to the model; only personal data can/);
    expect(() => invocation(16_000, { reveal: [{ type: 'email', paths: ['invitees.email'] }] })).toThrow(/must be a JSON pointer/);
  });
});
