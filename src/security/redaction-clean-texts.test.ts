import { describe, expect, it } from 'vitest';
import { createRedactor } from './redaction.ts';
import { compileRevealPolicy } from './redaction-policy.ts';

describe('the redactor\u2019s memory of short clean texts', () => {
  it('never lets a text found clean under a reveal policy through without one', () => {
    const redactor = createRedactor();
    const reveal = compileRevealPolicy({ reveal: ['email'] }, 'Tool "mail"');
    // Clean for this call (its policy reveals e-mail addresses), so it must not be remembered as clean.
    expect(redactor.redactValue({ to: 'ann@example.com' }, { reveal }).value).toEqual({ to: 'ann@example.com' });
    expect(redactor.redactValue({ to: 'ann@example.com' }).value).toEqual({ to: '[REDACTED:email]' });
    expect(redactor.redactText('ann@example.com').text).toBe('[REDACTED:email]');
  });

  it('answers a repeated clean text as before, and still redacts a secret in a text met after many clean ones', () => {
    const redactor = createRedactor();
    for (let index = 0; index < 3_000; index += 1) expect(redactor.redactValue({ key: `k${index}` }).value).toEqual({ key: `k${index}` });
    expect(redactor.redactValue({ key: 'k7' })).toEqual({ value: { key: 'k7' }, findings: [], locations: [] });
    const token = `ghp_${'a1B2c3D4e5'.repeat(3)}abcdef`;
    expect(redactor.redactValue({ key: token }).value).toEqual({ key: '[REDACTED:github-token]' });
    expect(redactor.redactValue({ key: token }).value).toEqual({ key: '[REDACTED:github-token]' });
  });
});
