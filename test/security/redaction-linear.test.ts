import { describe, expect, it } from 'vitest';
import { createRedactor } from '../../src/security/redaction.ts';
import '../../src/security/redaction-detectors.ts';
import { redactionWork, registeredPatterns } from '../../src/security/redaction-scan.ts';

/**
 * Redaction must take time linear in its input, whatever the input: a tool's output is attacker-controlled,
 * and a quadratic scan of one megabyte blocks the event loop for seconds. Two checks, neither timed:
 *
 * - by construction: no pattern a detector runs has an unbounded (`*`, `+`, `{m,}`) or lazy quantifier, so
 *   the work at one position is bounded by a constant;
 * - by counting: the work counter (characters searched, walked and decoded) on 1 MB of adversarial input is
 *   four times that on 250 KB, and a small multiple of the input's length.
 */

/** The quantifiers in a pattern's source that are unbounded or lazy, outside character classes and escapes. */
function unboundedQuantifiers(source: string): string[] {
  const problems: string[] = [];
  let inClass = false;
  for (let index = 0; index < source.length; index += 1) {
    const character = source[index]!;
    if (character === '\\') {
      index += 1;
      continue;
    }
    if (inClass) {
      if (character === ']') inClass = false;
      continue;
    }
    if (character === '[') inClass = true;
    else if (character === '*' || character === '+') problems.push(`"${character}" at ${index}`);
    else if (character === '{') {
      const bound = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(index));
      if (bound !== null && bound[2] !== undefined && bound[3] === '') problems.push(`"${bound[0]}" at ${index}`);
      if (bound !== null && source[index + bound[0].length] === '?') problems.push(`lazy "${bound[0]}?" at ${index}`);
    } else if (character === '?' && index > 0 && source[index - 1] === '?') problems.push(`lazy "??" at ${index}`);
  }
  return problems;
}

function repeatTo(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

const adversarial: Readonly<Record<string, (size: number) => string>> = {
  'repeated private-key headers': (size) => repeatTo('-----BEGIN PRIVATE KEY-----', size),
  'private-key headers then a long body with no footer': (size) => repeatTo('-----BEGIN RSA PRIVATE KEY-----\n', size / 4) + repeatTo('A', (size * 3) / 4),
  'SSH2 and PuTTY anchors': (size) => repeatTo('---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----Private-Lines: 9999\n', size),
  'one letter': (size) => 'A'.repeat(size),
  'long base64': (size) => repeatTo('QUtJQUlPU0ZPRE5ON0VYQU1QTEVhYmNk', size),
  'base64 of text, nested': (size) => repeatTo(Buffer.from(Buffer.from('token=abc password=x ').toString('base64')).toString('base64'), size),
  'long digit run': (size) => '1'.repeat(size),
  'digit runs with separators': (size) => repeatTo('4111 1111.1111-1111 ', size),
  "many '=' pairs": (size) => repeatTo('token=a=b=c=password=secret:', size),
  'keywords with spaces': (size) => repeatTo('password token secret ', size),
  'JWT anchors': (size) => repeatTo('eyJhbGciOi .eyJzdWIiOiIx.', size),
  'JWT headers without payload': (size) => repeatTo('eyJabcdefgh.', size),
  'e-mail local parts': (size) => repeatTo(`${'x'.repeat(64)}@`, size),
  'e-mail domains': (size) => repeatTo('a@b.', size),
  'URL authorities': (size) => repeatTo('a://user:pass', size),
  'percent-encoding and JSON escapes': (size) => repeatTo('%41%4B\\n\\u0041\\\\"x', size),
  'full-width and zero-width characters': (size) => repeatTo('４１１１\u200b１１１１\u00a0', size),
  'phone-like groups': (size) => repeatTo('+1 (415) ', size),
  'IBAN-like groups': (size) => repeatTo('DE89 3704 ', size),
  'token prefixes': (size) => repeatTo('sk-xoxb-ghp_AKIAglpat-', size),
  'bearer and basic': (size) => repeatTo('Bearer Basic ', size),
};

function workFor(text: string): number {
  const before = redactionWork();
  createRedactor().redactText(text);
  return redactionWork() - before;
}

describe('redaction in linear time', () => {
  it('registers the patterns of every detector, and none has an unbounded or lazy quantifier', () => {
    const patterns = registeredPatterns();
    expect(patterns.length).toBeGreaterThan(30);
    const problems = patterns.flatMap((pattern) => unboundedQuantifiers(pattern.source).map((problem) => `${pattern.source}: ${problem}`));
    expect(problems).toEqual([]);
  });

  it('finds unbounded quantifiers where they are', () => {
    expect(unboundedQuantifiers('a+b')).toEqual(['"+" at 1']);
    expect(unboundedQuantifiers('[a+*]{1,4}\\d\\+')).toEqual([]);
    expect(unboundedQuantifiers('x{2,}y')).toEqual(['"{2,}" at 1']);
    expect(unboundedQuantifiers('x{2,9}?')).toEqual(['lazy "{2,9}?" at 1']);
    expect(unboundedQuantifiers('(?:ab)?c')).toEqual([]);
  });

  it('scans a text once for all the places it is exported to, and again after it is forgotten', () => {
    const redactor = createRedactor();
    const output = `tool output for ann@example.com ${'x'.repeat(2_000)}`;
    const first = redactionWork();
    const once = redactor.redactText(output);
    const scanned = redactionWork() - first;
    const second = redactionWork();
    expect(redactor.redactText(output)).toBe(once);
    expect(redactionWork() - second).toBe(0);
    for (let other = 0; other < 64; other += 1) redactor.redactText(`${other} ${'y'.repeat(600)}`);
    const third = redactionWork();
    redactor.redactText(output);
    expect(redactionWork() - third).toBe(scanned);
  });

  for (const [name, build] of Object.entries(adversarial)) {
    it(`does work proportional to the input on ${name}`, () => {
      const small = workFor(build(250_000));
      const large = workFor(build(1_000_000));
      // Linear: four times the input, four times the work (a quadratic scan would do sixteen times).
      expect(large / small, `${small} → ${large}`).toBeLessThan(4.4);
      // And a bounded amount per character: every view, detector and decoding together.
      expect(large / 1_000_000).toBeLessThan(200);
    });
  }
});
