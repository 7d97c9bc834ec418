import { describe, expect, it } from 'vitest';
import { createRedactor, redactText } from '../../src/security/redaction.ts';
import { compileRevealPolicy } from '../../src/security/redaction-policy.ts';
import { anthropicKey, awsKey, githubClassic, jsonWebToken } from './redaction-corpus.ts';

/**
 * Text written to slip past pattern matching: encodings, invisible characters, look-alike digits and
 * spaces. Each case is redacted in the text as written (the marker replaces the whole disguised value),
 * and each disguise applied to harmless text changes nothing.
 */

const base64 = (text: string): string => Buffer.from(text).toString('base64');

interface Evasion {
  readonly name: string;
  readonly text: string;
  readonly expected: string;
  /** What must not survive in the output. */
  readonly hidden: string;
}

const aws = awsKey(101);
const github = githubClassic(102);
const anthropic = anthropicKey(103);
const token = jsonWebToken(104);
const [header, payload, signature] = token.split('.') as [string, string, string];

const evasions: readonly Evasion[] = [
  { name: 'base64-encoded key', text: `echo ${base64(`aws_access_key_id=${aws}`)} | base64 -d`, expected: 'echo [REDACTED:aws-access-key] | base64 -d', hidden: aws },
  { name: 'base64 inside base64', text: `blob ${base64(base64(`token: ${github}`))}`, expected: 'blob [REDACTED:github-token]', hidden: github },
  { name: 'space inside a JWT header', text: `jwt ${header.slice(0, 8)} ${header.slice(8)}.${payload}.${signature} ok`, expected: 'jwt [REDACTED:jwt] ok', hidden: payload },
  { name: 'card number separated by dots', text: 'card 4111.1111.1111.1111 charged', expected: 'card [REDACTED:card-number] charged', hidden: '4111.1111' },
  { name: 'card number with no-break spaces', text: 'card 4111\u00a01111\u00a01111\u00a01111 charged', expected: 'card [REDACTED:card-number] charged', hidden: '1111\u00a01111' },
  { name: 'card number in full-width digits', text: 'card ４１１１ １１１１ １１１１ １１１１', expected: 'card [REDACTED:card-number]', hidden: '１１１１' },
  { name: 'card number with zero-width joiners', text: 'card 4111\u200d1111\u200d1111\u200d1111.', expected: 'card [REDACTED:card-number].', hidden: '1111' },
  { name: 'e-mail address split by a zero-width space', text: 'mail jane\u200b@example.com now', expected: 'mail [REDACTED:email] now', hidden: 'example.com' },
  { name: 'lower-case IBAN', text: 'iban de89 3704 0044 0532 0130 00 due', expected: 'iban [REDACTED:iban] due', hidden: '0532' },
  { name: 'dashed IBAN', text: 'iban DE89-3704-0044-0532-0130-00 due', expected: 'iban [REDACTED:iban] due', hidden: '0532' },
  { name: 'internationalized e-mail address', text: 'an jörg.müller@bücher.de und 用户@例子.广告', expected: 'an [REDACTED:email] und [REDACTED:email]', hidden: 'bücher' },
  { name: 'punycode domain', text: 'to info@xn--bcher-kva.de', expected: 'to [REDACTED:email]', hidden: 'info@' },
  { name: 'full-width at sign', text: 'to jane＠example.com', expected: 'to [REDACTED:email]', hidden: 'jane' },
  { name: 'URL-encoded e-mail address', text: 'GET /unsubscribe?email=jane.doe%40example.com&list=7', expected: 'GET /unsubscribe?email=[REDACTED:email]&list=7', hidden: 'jane.doe' },
  { name: 'secret after a literal \\n in JSON', text: `stdout: {"log":"starting\\n${github}\\ndone"}`, expected: 'stdout: {"log":"starting\\n[REDACTED:github-token]\\ndone"}', hidden: github },
  {
    name: 'double-encoded JSON',
    text: `result ${JSON.stringify(JSON.stringify({ note: `line\n${aws}` }))}`,
    expected: 'result "{\\"note\\":\\"line\\\\n[REDACTED:aws-access-key]\\"}"',
    hidden: aws,
  },
  { name: 'key split by a zero-width space', text: `key=${anthropic.slice(0, 30)}\u200b${anthropic.slice(30)}`, expected: 'key=[REDACTED:anthropic-key]', hidden: anthropic.slice(30) },
  { name: 'JSON \\u escape inside a key', text: `{"k":"${github.slice(0, 10)}\\u200b${github.slice(10)}"} and more`, expected: '{"k":"[REDACTED:github-token]"} and more', hidden: github.slice(10) },
  { name: 'percent-encoded password in a query string', text: 'login?user=ann&password=s3cr%65t%21x', expected: 'login?user=ann&password=[REDACTED:named-secret]', hidden: 's3cr' },
];

describe('redaction against evasions', () => {
  for (const evasion of evasions) {
    it(`redacts a ${evasion.name} where it is written`, () => {
      const { text } = redactText(evasion.text);
      expect(text).toBe(evasion.expected);
      expect(text).not.toContain(evasion.hidden);
    });
  }

  it('says where each marker is, and never what it replaced', () => {
    const result = redactText(`a jane\u200b@example.com b ${base64(`token=${github}`)}`);
    expect(result.locations).toEqual([
      { type: 'email', offset: 2 },
      { type: 'github-token', offset: 21 },
    ]);
    expect(result.text.slice(2, 18)).toBe('[REDACTED:email]');
    expect(JSON.stringify(result.findings) + JSON.stringify(result.locations)).not.toContain('example');
  });
});

describe('the same disguises on harmless text change nothing', () => {
  const harmless: readonly string[] = [
    '注文番号 ４１１１１１１１１１１１１１１２ を発送しました',
    'total\u00a01\u00a0234\u00a0567,89\u00a0€',
    'see /docs/a%20b%2Fc.md and 100%25 of {"text":"line one\\nline two\\tand\\u00e9t\\u00e9"}',
    `echo ${base64('hello world, nothing secret here at all')} | base64 -d`,
    'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
    'request 550e8400-e29b-41d4-a716-446655440000 at commit 3f786850e387550fdab836ed7e6dc881de23001b',
    'zero\u200bwidth\u200djoiner and ＦＵＬＬ ＷＩＤＴＨ text',
    '{"note":"{\\"order\\":\\"ORD-2024-000123\\",\\"qty\\":3}"}',
  ];
  for (const text of harmless) {
    it(`leaves ${JSON.stringify(text.slice(0, 40))} unchanged`, () => {
      expect(redactText(text).text).toBe(text);
    });
  }
});

describe('redactor options and reveal policies', () => {
  it('keeps redacting secrets when the chosen types leave them out', () => {
    expect(createRedactor({ types: ['email'] }).redactText(`a@example.com ${github} 203.0.113.9`).text).toBe('[REDACTED:email] [REDACTED:github-token] 203.0.113.9');
  });

  it('reveals personal data for a call only, and only the kinds its policy names', () => {
    const redactor = createRedactor();
    const reveal = compileRevealPolicy({ reveal: ['email', 'iban'] }, 'Tool "pay"');
    const text = `pay GB82WEST12345698765432 for ann@example.com, card 4111111111111111, key ${aws}`;
    expect(redactor.redactText(text, { reveal }).text).toBe('pay GB82WEST12345698765432 for ann@example.com, card [REDACTED:card-number], key [REDACTED:aws-access-key]');
    expect(redactor.redactText(text).text).toBe('pay [REDACTED:iban] for [REDACTED:email], card [REDACTED:card-number], key [REDACTED:aws-access-key]');
  });

  it('refuses to reveal a secret, an unknown kind, or a path that is not a JSON pointer', () => {
    expect(() => compileRevealPolicy({ reveal: ['private-key' as never] }, 'Tool "t"')).toThrow(/Tool "t": "private-key" cannot be revealed/);
    expect(() => compileRevealPolicy({ reveal: ['passport' as never] }, 'Tool "t"')).toThrow(/"passport" cannot be revealed/);
    expect(() => compileRevealPolicy({ reveal: [{ type: 'email', paths: [] }] }, 'Tool "t"')).toThrow(/lists no paths/);
    expect(() => compileRevealPolicy({ reveal: [{ type: 'email', paths: ['to'] }] }, 'Tool "t"')).toThrow(/JSON pointer/);
  });

  it('redacts the value of a secret-like key in JSON, where name and value are separate strings', () => {
    const { value, locations } = createRedactor().redactValue({
      user: { password: 'hunter2', passwordHint: 'pet', pin: 1234 },
      auth: { access_token: 'abc', refresh_token: '***', max_tokens: 4096, apiKey: 12_345_678 },
    });
    expect(value).toEqual({
      user: { password: '[REDACTED:named-secret]', passwordHint: 'pet', pin: 1234 },
      auth: { access_token: '[REDACTED:named-secret]', refresh_token: '***', max_tokens: 4096, apiKey: '[REDACTED:named-secret]' },
    });
    expect(locations).toEqual([
      { type: 'named-secret', offset: 0, path: '/user/password' },
      { type: 'named-secret', offset: 0, path: '/auth/access_token' },
      { type: 'named-secret', offset: 0, path: '/auth/apiKey' },
    ]);
  });

  it('matches reveal paths segment by segment, with keys escaped as in JSON pointers', () => {
    const reveal = compileRevealPolicy({ reveal: [{ type: 'email', paths: ['/a~1b/*/to'] }] }, 'Tool "t"');
    const { value } = createRedactor().redactValue({ 'a/b': [{ to: 'x@example.com', cc: 'y@example.com' }] }, { reveal });
    expect(value).toEqual({ 'a/b': [{ to: 'x@example.com', cc: '[REDACTED:email]' }] });
  });
});
