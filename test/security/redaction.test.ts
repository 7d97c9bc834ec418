import { describe, expect, it } from 'vitest';
import { isCardIssuerNumber, passesIbanChecksum, passesLuhn } from '../../src/security/checksums.ts';
import { createRedactor, redactText } from '../../src/security/redaction.ts';
import { redactionTypes } from '../../src/security/redaction-detectors.ts';
import { lookAlikes, positives } from './redaction-corpus.ts';

describe('redaction corpus', () => {
  it('covers every redaction type with positives', () => {
    const covered = new Set(positives.flatMap((sample) => sample.secrets.map((item) => item.type)));
    expect([...covered].sort()).toEqual([...redactionTypes].sort());
  });

  it('leaks no sensitive value and redacts each to its typed marker', () => {
    const leaks: string[] = [];
    const wrongOutput: string[] = [];
    for (const sample of positives) {
      const { text } = redactText(sample.text);
      for (const item of sample.secrets) if (text.includes(item.value)) leaks.push(`${item.type}: ${item.value}`);
      if (text !== sample.expected) wrongOutput.push(`${JSON.stringify(sample.text)}\n  got      ${JSON.stringify(text)}\n  expected ${JSON.stringify(sample.expected)}`);
    }
    expect(leaks).toEqual([]);
    expect(wrongOutput).toEqual([]);
  });

  it('reports findings that count each type', () => {
    for (const sample of positives) {
      const expected = new Map<string, number>();
      for (const item of sample.secrets) expected.set(item.type, (expected.get(item.type) ?? 0) + 1);
      const reported = new Map(redactText(sample.text).findings.map((finding) => [finding.type, finding.count]));
      expect(reported, sample.text).toEqual(expected);
    }
  });

  it('leaves every look-alike unchanged: zero false positives', () => {
    const falsePositives = lookAlikes
      .map((sample) => ({ ...sample, result: redactText(sample.text) }))
      .filter((sample) => sample.result.text !== sample.text)
      .map((sample) => `${sample.kind}: ${JSON.stringify(sample.text)} → ${JSON.stringify(sample.result.text)}`);
    expect(falsePositives).toEqual([]);
  });

  it('has look-alike numbers that really fail their checksums', () => {
    expect(passesLuhn('4111111111111112')).toBe(false);
    expect(passesLuhn('1234567812345678')).toBe(false);
    expect(passesLuhn('5555555555554445')).toBe(false);
    expect(passesIbanChecksum('DE00370400440532013000')).toBe(false);
    expect(passesIbanChecksum('DE89370400440532013000')).toBe(true);
  });
});

describe('checksums', () => {
  it('accepts the card networks\' test numbers and rejects a changed digit', () => {
    for (const number of ['4111111111111111', '5555555555554444', '378282246310005', '6011111111111117', '3530111333300000', '30569309025904', '4222222222222']) {
      expect(passesLuhn(number), number).toBe(true);
      expect(isCardIssuerNumber(number), number).toBe(true);
      const changed = number.slice(0, -1) + String((Number(number.at(-1)) + 1) % 10);
      expect(passesLuhn(changed), changed).toBe(false);
    }
  });

  it('rejects numbers of a length the network does not issue', () => {
    expect(isCardIssuerNumber('41111111111111')).toBe(false); // Visa, 14 digits
    expect(isCardIssuerNumber('3782822463100050')).toBe(false); // Amex, 16 digits
    expect(isCardIssuerNumber('1767225600000')).toBe(false); // a timestamp in milliseconds
  });

  it('checks the IBAN length of the country', () => {
    expect(passesIbanChecksum('GB82WEST12345698765432')).toBe(true);
    expect(passesIbanChecksum('GB82WEST1234569876543')).toBe(false);
  });
});

describe('redactor', () => {
  it('redacts only the chosen types', () => {
    const redactor = createRedactor({ types: ['email'] });
    const result = redactor.redactText('jane@example.com paid with 4111111111111111');
    expect(result.text).toBe('[REDACTED:email] paid with 4111111111111111');
    expect(result.findings).toEqual([{ type: 'email', count: 1 }]);
  });

  it('refuses an unknown type', () => {
    expect(() => createRedactor({ types: ['password' as never] })).toThrow(/Unknown redaction type "password"/);
  });

  it('gives overlapping text to the more specific detector once', () => {
    const result = redactText('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc123def456ghi789');
    expect(result.text).toBe('Authorization: Bearer [REDACTED:jwt]');
    expect(result.findings).toEqual([{ type: 'jwt', count: 1 }]);
  });

  it('redacts strings inside values, keys included, and keeps keys that redact alike apart', () => {
    const { value, findings } = createRedactor().redactValue({
      to: ['a@example.com', 'b@example.com'],
      amount: 12,
      byEmail: { 'c@example.com': 1, 'd@example.com': 2 },
      nested: { card: '4111 1111 1111 1111', ok: true, none: null },
    });
    expect(value).toEqual({
      to: ['[REDACTED:email]', '[REDACTED:email]'],
      amount: 12,
      byEmail: { '[REDACTED:email]': 1, '[REDACTED:email] (2)': 2 },
      nested: { card: '[REDACTED:card-number]', ok: true, none: null },
    });
    expect(findings).toEqual([
      { type: 'email', count: 4 },
      { type: 'card-number', count: 1 },
    ]);
  });

  it('finds a card after a rejected look-alike that overlaps it', () => {
    expect(redactText('2024 4111 1111 1111 1111').text).toBe('2024 [REDACTED:card-number]');
  });
});
