// Compares two V8 heap snapshots by constructor: which kinds of object grew in count and retained size between them.
// The soak writes a pair with `--heap-snapshots` (after the warm-up and at the end of the load); a leak shows up as
// a constructor whose count grows with the number of sessions run in between.
//
//   node --import tsx bench/soak/heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [--top 25]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: readonly string[]; readonly node_types: readonly [readonly string[], ...unknown[]] } };
  readonly nodes: readonly number[];
  readonly strings: readonly string[];
}

export interface ConstructorTotals {
  count: number;
  selfBytes: number;
}

/** Object count and self size by constructor (or by node type for strings, code, arrays and the like). */
export function totalsByConstructor(path: string): Map<string, ConstructorTotals> {
  const snapshot = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map<string, ConstructorTotals>();
  for (let offset = 0; offset < snapshot.nodes.length; offset += stride) {
    const type = types[snapshot.nodes[offset + typeAt] as number] ?? 'unknown';
    // Objects are grouped by constructor name; everything else by its type, since each string is its own name.
    const key = type === 'object' || type === 'closure' ? `${type}:${snapshot.strings[snapshot.nodes[offset + nameAt] as number] ?? '?'}` : type;
    const entry = totals.get(key) ?? { count: 0, selfBytes: 0 };
    entry.count += 1;
    entry.selfBytes += snapshot.nodes[offset + sizeAt] as number;
    totals.set(key, entry);
  }
  return totals;
}

export function diffTotals(before: ReadonlyMap<string, ConstructorTotals>, after: ReadonlyMap<string, ConstructorTotals>): { key: string; count: number; bytes: number }[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys]
    .map((key) => ({ key, count: (after.get(key)?.count ?? 0) - (before.get(key)?.count ?? 0), bytes: (after.get(key)?.selfBytes ?? 0) - (before.get(key)?.selfBytes ?? 0) }))
    .sort((left, right) => right.bytes - left.bytes);
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '25' } }, allowPositionals: true });
  const [beforePath, afterPath] = positionals;
  if (beforePath === undefined || afterPath === undefined) throw new Error('usage: heap-diff.ts <before.heapsnapshot> <after.heapsnapshot> [--top 25]');
  const rows = diffTotals(totalsByConstructor(beforePath), totalsByConstructor(afterPath)).slice(0, Number(values.top));
  for (const row of rows) console.log(`${(row.bytes / 1024).toFixed(1).padStart(10)} KB  ${String(row.count).padStart(8)}  ${row.key}`);
}
