import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const start = '<!-- attack-simulation:start -->';
const end = '<!-- attack-simulation:end -->';

/** The machine the run was on, for the report: CPU, Node, and the load while it ran. */
export function machineLine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, Node ${process.version}, load average ${loadavg().map((value) => value.toFixed(1)).join(' / ')} at the end of the run`;
}

/** Writes the JSON results and replaces this benchmark's section of BENCHMARKS.md (or appends it). */
export function writeReport(root: string, markdown: string, json: unknown): void {
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'attack-simulation.json'), `${JSON.stringify(json, null, 1)}\n`);
  const file = join(root, 'BENCHMARKS.md');
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const section = `${start}\n${markdown}\n${end}`;
  const from = existing.indexOf(start);
  const to = existing.indexOf(end);
  const updated = from !== -1 && to > from ? existing.slice(0, from) + section + existing.slice(to + end.length) : `${existing.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, updated);
}
