/**
 * Redaction throughput: MB/s of `redactText` on 1 MB of adversarial input (each shape built to make a
 * backtracking or rescanning detector quadratic) and on 1 MB of ordinary tool output. A benchmark, not a
 * test: it fails only if a run leaks the secret planted in the ordinary text. The 250 KB column and the
 * ratio show linearity: a linear scan of four times the input takes about four times as long.
 *
 *   node --import tsx bench/redaction.ts
 */
import { createRedactor } from '../src/security/redaction.ts';
import { redactionWork } from '../src/security/redaction-scan.ts';

const megabyte = 1_000_000;

function repeatTo(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

const shapes: Readonly<Record<string, (size: number) => string>> = {
  'repeated private-key headers': (size) => repeatTo('-----BEGIN PRIVATE KEY-----\n', size),
  'headers then no footer': (size) => repeatTo('-----BEGIN RSA PRIVATE KEY-----', size / 2) + repeatTo('x', size / 2),
  'long base64': (size) => repeatTo('QUtJQUlPU0ZPRE5ON0VYQU1QTEVhYmNk', size),
  'digit runs with separators': (size) => repeatTo('4111 1111.1111-1111 ', size),
  "many '=' pairs": (size) => repeatTo('token=a=b=c=password=', size),
  'JWT anchors': (size) => repeatTo('eyJhbGciOi .eyJzdWIiOiIx.', size),
  'e-mail local parts': (size) => repeatTo(`${'x'.repeat(64)}@`, size),
  'percent and escapes': (size) => repeatTo('%41%4B\\n\\u0041"x', size),
  'full-width and zero-width': (size) => repeatTo('４１１１\u200b１１１１\u00a0', size),
};

const ordinary = (size: number): string =>
  repeatTo(
    'INFO 2026-01-15T10:30:00Z request 123e4567-e89b-12d3-a456-426614174000 GET /api/orders/10023456789 200 in 35 ms; ' +
      'user agent Chrome/120.0.6099.109; build 3f786850e387550fdab836ed7e6dc881de23001b; The password reset link was sent.\n',
    size,
  );

function measure(text: string): { readonly milliseconds: number; readonly work: number } {
  let best = Number.POSITIVE_INFINITY;
  let work = 0;
  for (let run = 0; run < 3; run += 1) {
    // A new redactor each run: a redactor remembers the texts it redacted last.
    const redactor = createRedactor();
    const before = redactionWork();
    const started = performance.now();
    redactor.redactText(text);
    best = Math.min(best, performance.now() - started);
    work = redactionWork() - before;
  }
  return { milliseconds: best, work };
}

const rows: string[][] = [['input', '250 KB ms', '1 MB ms', 'time ×', 'work ×', 'MB/s']];
const all: Readonly<Record<string, (size: number) => string>> = { 'ordinary tool output': ordinary, ...shapes };
for (const [name, build] of Object.entries(all)) {
  const small = measure(build(megabyte / 4));
  const large = measure(build(megabyte));
  rows.push([name, small.milliseconds.toFixed(1), large.milliseconds.toFixed(1), (large.milliseconds / small.milliseconds).toFixed(1), (large.work / small.work).toFixed(2), (1000 / large.milliseconds).toFixed(1)]);
}

const planted = `${ordinary(megabyte / 2)}AWS key ${['AK', 'IA', 'IOSFODNN7EXAMPLF'].join('')}\n${ordinary(megabyte / 2)}`;
if (createRedactor().redactText(planted).text.includes('IOSFODNN7EXAMPLF')) {
  console.error('The secret planted in ordinary text was not redacted.');
  process.exitCode = 1;
}

const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
for (const row of rows) console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  '));
