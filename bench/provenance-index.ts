/**
 * Information-flow control throughput: how fast the provenance index takes in context (MB/s of `add`) and answers
 * for argument values (`trace` of a 2 KB value), on ordinary tool output and on adversarial shapes built to make a
 * backtracking matcher quadratic. A benchmark, not a test: it fails only if the index misses a value planted in the
 * input. The 64 KB and 256 KB columns and their ratio show linearity: four times the input takes about four times as
 * long. (256 KB is the most of one item the index reads.)
 *
 *   node --import tsx bench/provenance-index.ts
 */
import { ProvenanceIndex } from '../src/security/provenance/index.ts';

const kilobyte = 1_024;

function repeatTo(unit: string, size: number): string {
  return unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
}

const shapes: Readonly<Record<string, (size: number) => string>> = {
  'ordinary tool output': (size) =>
    repeatTo(
      'INFO 2026-01-15T10:30:00Z order 10023456789 for alice@example.com shipped to 12 Rue de la Paix, Paris; total 1,249.90 EUR; ' +
        'invoice https://shop.example.com/invoices/INV-2026-004411.pdf; notes: customer asked to leave the parcel with the neighbour.\n',
      size,
    ),
  'one long digit run': (size) => repeatTo('1', size),
  'digit groups': (size) => repeatTo('12 34-56 ', size),
  'e-mail local parts': (size) => repeatTo(`${'x'.repeat(64)}@`, size),
  'slashes and dots': (size) => repeatTo('a/b.c/', size),
  'url prefixes': (size) => repeatTo('https://', size),
  'long word': (size) => repeatTo('abc1', size),
  'full-width and zero-width': (size) => repeatTo('４１１１\u200b１１１１\u00a0', size),
};

const planted = 'GB33 BUKB 2020 1555 5555 55';

function measure(text: string): { readonly addMs: number; readonly traceMs: number; readonly found: boolean } {
  let addMs = Number.POSITIVE_INFINITY;
  let traceMs = Number.POSITIVE_INFINITY;
  let found = false;
  const value = `${repeatTo('pay the invoice today ', 2 * kilobyte - planted.length)}${planted}`;
  for (let run = 0; run < 3; run += 1) {
    const index = new ProvenanceIndex();
    index.add({ id: 'system', provenance: 'system', text: 'You manage payments.', description: 'instructions' });
    const started = performance.now();
    index.add({ id: 'call:c1', provenance: 'web', text: `${planted} ${text}`, description: 'a result' });
    addMs = Math.min(addMs, performance.now() - started);
    const tracing = performance.now();
    found = index.trace(value)?.source.id === 'call:c1';
    traceMs = Math.min(traceMs, performance.now() - tracing);
  }
  return { addMs, traceMs, found };
}

const rows: string[][] = [['input', '64 KB add ms', '256 KB add ms', 'time ×', 'add MB/s', 'trace 2 KB ms']];
let missed = 0;
for (const [name, build] of Object.entries(shapes)) {
  const small = measure(build(64 * kilobyte));
  const large = measure(build(256 * kilobyte - planted.length - 1));
  if (!small.found || !large.found) missed += 1;
  rows.push([name, small.addMs.toFixed(1), large.addMs.toFixed(1), (large.addMs / small.addMs).toFixed(1), (0.25 / (large.addMs / 1000) / 1.048576).toFixed(1), large.traceMs.toFixed(2)]);
}

const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
for (const row of rows) console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
if (missed > 0) {
  console.error(`The index missed the planted IBAN in ${missed} input(s).`);
  process.exit(1);
}
