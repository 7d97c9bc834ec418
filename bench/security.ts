/**
 * Injection detection, measured: for the rules alone, the classifier alone and both together, the true-positive
 * rate on injections and the false-positive rate on benign rows, per file and per category, on the train and the
 * test split; scan throughput on ordinary and adversarial text; the same table for two published JavaScript
 * detectors run side by side. States the targets as MET or NOT MET:
 *   - test split, rules + classifier: TPR >= 90 % on non-jailbreak injections at FPR <= 2 % on benign rows;
 *   - scan >= 5 MB/s on one core (ordinary text).
 * Writes bench/results/security.json and the "Injection detection" section of BENCHMARKS.md.
 *
 *   npm run bench:security -- [--data DIR] [--split train|test|both] [--no-peers] [--no-write]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createInjectionDetector } from '../src/security/injection/index.ts';
import type { InjectionLayer } from '../src/security/injection/index.ts';
import { datasetFolder, isJailbreak, loadSplit } from './security-data.ts';
import type { LabelledRow, Split } from './security-data.ts';
import { loadPeers } from './security-peers.ts';
import { measureThroughput } from './security-throughput.ts';
import type { ThroughputRow } from './security-throughput.ts';

interface Detector {
  readonly name: string;
  detect(text: string): Promise<boolean> | boolean;
}

interface Rate {
  readonly hits: number;
  readonly total: number;
}

interface Scores {
  readonly detector: string;
  readonly split: Split;
  /** Non-jailbreak injections caught. */
  readonly truePositive: Rate;
  readonly jailbreak: Rate;
  readonly falsePositive: Rate;
  readonly perFile: Record<string, { injections: Rate; benign: Rate }>;
  readonly perCategory: Record<string, Rate>;
  readonly seconds: number;
}

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({ options: { data: { type: 'string' }, split: { type: 'string', default: 'both' }, 'no-peers': { type: 'boolean' }, 'no-write': { type: 'boolean' } } });
const splits: Split[] = values.split === 'train' ? ['train'] : values.split === 'test' ? ['test'] : ['train', 'test'];

const add = (rate: Rate | undefined, hit: boolean): Rate => ({ hits: (rate?.hits ?? 0) + (hit ? 1 : 0), total: (rate?.total ?? 0) + 1 });
const percent = (rate: Rate): string => (rate.total === 0 ? '–' : `${((100 * rate.hits) / rate.total).toFixed(1)} %`);

async function score(detector: Detector, split: Split, rows: readonly LabelledRow[]): Promise<Scores> {
  let truePositive: Rate = { hits: 0, total: 0 };
  let jailbreak: Rate = { hits: 0, total: 0 };
  let falsePositive: Rate = { hits: 0, total: 0 };
  const perFile: Scores['perFile'] = {};
  const perCategory: Record<string, Rate> = {};
  const started = performance.now();
  for (const row of rows) {
    const flagged = await detector.detect(row.text);
    const file = (perFile[row.file] ??= { injections: { hits: 0, total: 0 }, benign: { hits: 0, total: 0 } });
    if (row.injection) file.injections = add(file.injections, flagged);
    else file.benign = add(file.benign, flagged);
    perCategory[row.category] = add(perCategory[row.category], flagged);
    if (!row.injection) falsePositive = add(falsePositive, flagged);
    else if (isJailbreak(row)) jailbreak = add(jailbreak, flagged);
    else truePositive = add(truePositive, flagged);
  }
  return { detector: detector.name, split, truePositive, jailbreak, falsePositive, perFile, perCategory, seconds: (performance.now() - started) / 1000 };
}

function keelDetector(name: string, layers: readonly InjectionLayer[]): Detector {
  const detector = createInjectionDetector({ layers });
  return { name, detect: (text) => detector.scan(text).injection };
}

function summaryTable(results: readonly Scores[]): string[] {
  const lines = ['| detector | split | TPR (non-jailbreak injections) | TPR (jailbreaks) | FPR (benign rows) | seconds |', '| --- | --- | ---: | ---: | ---: | ---: |'];
  for (const result of results) {
    lines.push(`| ${result.detector} | ${result.split} | ${percent(result.truePositive)} (${result.truePositive.hits}/${result.truePositive.total}) | ${percent(result.jailbreak)} | ${percent(result.falsePositive)} (${result.falsePositive.hits}/${result.falsePositive.total}) | ${result.seconds.toFixed(1)} |`);
  }
  return lines;
}

function breakdownTable(results: readonly Scores[], split: Split, key: 'perFile' | 'perCategory'): string[] {
  const chosen = results.filter((result) => result.split === split);
  if (chosen.length === 0) return [];
  const names = [...new Set(chosen.flatMap((result) => Object.keys(result[key])))].sort();
  const header = `| ${key === 'perFile' ? 'file' : 'category'} | rows | ${chosen.map((result) => result.detector).join(' | ')} |`;
  const lines = [header, `| --- | ---: | ${chosen.map(() => '---:').join(' | ')} |`];
  for (const name of names) {
    if (key === 'perFile') {
      for (const kind of ['injections', 'benign'] as const) {
        const first = (chosen[0]!.perFile[name] ?? { injections: { hits: 0, total: 0 }, benign: { hits: 0, total: 0 } })[kind];
        if (first.total === 0) continue;
        const label = kind === 'injections' ? 'TPR' : 'FPR';
        lines.push(`| ${name} (${label}) | ${first.total} | ${chosen.map((result) => percent(result.perFile[name]![kind])).join(' | ')} |`);
      }
    } else {
      const total = chosen[0]!.perCategory[name]?.total ?? 0;
      const label = name.startsWith('benign:') ? 'FPR' : 'TPR';
      lines.push(`| ${name} (${label}) | ${total} | ${chosen.map((result) => percent(result.perCategory[name] ?? { hits: 0, total: 0 })).join(' | ')} |`);
    }
  }
  return lines;
}

function targets(results: readonly Scores[], throughput: readonly ThroughputRow[]): string[] {
  const both = results.find((result) => result.detector === 'keel rules+classifier' && result.split === 'test');
  const lines: string[] = [];
  if (both !== undefined) {
    const tpr = both.truePositive.hits / both.truePositive.total;
    const fpr = both.falsePositive.hits / both.falsePositive.total;
    lines.push(`- Detection on test/, rules + classifier: TPR ${percent(both.truePositive)} on non-jailbreak injections (target >= 90 %), FPR ${percent(both.falsePositive)} on benign rows (target <= 2 %): **${tpr >= 0.9 && fpr <= 0.02 ? 'MET' : 'NOT MET'}**`);
  } else lines.push('- Detection target: not evaluated (the test split was not run).');
  const ordinary = throughput.find((row) => row.shape === 'ordinary text');
  if (ordinary !== undefined) lines.push(`- Scan throughput on ordinary text, one core: ${ordinary.megabytesPerSecond.toFixed(1)} MB/s of CPU time (${ordinary.wallMegabytesPerSecond.toFixed(1)} MB/s wall clock at load ${loadAverage()}) (target >= 5 MB/s): **${ordinary.megabytesPerSecond >= 5 ? 'MET' : 'NOT MET'}**`);
  const slowest = [...throughput].sort((first, second) => first.megabytesPerSecond - second.megabytesPerSecond)[0];
  if (slowest !== undefined) lines.push(`- Slowest shape: ${slowest.shape}, ${slowest.megabytesPerSecond.toFixed(1)} MB/s.`);
  return lines;
}

function loadAverage(): string {
  return `${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`;
}

function throughputTable(throughput: readonly ThroughputRow[]): string[] {
  return [
    '| input (1 MB) | MB/s (CPU time) | MB/s (wall clock) | CPU ms | 1 MB / 250 KB time |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...throughput.map((row) => `| ${row.shape} | ${row.megabytesPerSecond.toFixed(1)} | ${row.wallMegabytesPerSecond.toFixed(1)} | ${row.milliseconds.toFixed(0)} | ${row.linearity.toFixed(2)} |`),
  ];
}

function writeReport(markdown: string, json: unknown): void {
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'security.json'), `${JSON.stringify(json, null, 1)}\n`);
  const file = join(root, 'BENCHMARKS.md');
  const start = '<!-- security-bench:start -->';
  const end = '<!-- security-bench:end -->';
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const section = `${start}\n${markdown}\n${end}`;
  const from = existing.indexOf(start);
  const to = existing.indexOf(end);
  const updated = from !== -1 && to > from ? existing.slice(0, from) + section + existing.slice(to + end.length) : `${existing.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, updated);
}

async function main(): Promise<void> {
  const folder = datasetFolder(values.data);
  const detectors: Detector[] = [keelDetector('keel rules', ['rules']), keelDetector('keel classifier', ['classifier']), keelDetector('keel rules+classifier', ['rules', 'classifier'])];
  let peerProblem: string | undefined;
  if (values['no-peers'] !== true) {
    const loaded = await loadPeers();
    detectors.push(...loaded.peers);
    peerProblem = loaded.problem;
    if (peerProblem !== undefined) console.error(`bench:security: peers not run: ${peerProblem}`);
  }
  const results: Scores[] = [];
  for (const split of splits) {
    const rows = loadSplit(folder, split);
    for (const detector of detectors) {
      results.push(await score(detector, split, rows));
      console.error(`bench:security: ${detector.name} on ${split} done`);
    }
  }
  const throughput = measureThroughput(folder);
  const markdown = [
    '## Injection detection',
    '',
    `\`npm run bench:security -- --data <dataset folder>\` (${new Date().toISOString().slice(0, 10)}, Node ${process.version}${peerProblem === undefined && values['no-peers'] !== true ? '; the two peers are installed by the benchmark into a scratch folder under the system temporary directory' : ''}). The detectors were trained and tuned on train/ only; test/ is reported, never tuned on. Thresholds: rules at 0.7 raw score, classifier at its calibrated threshold (5-fold out-of-fold on train/, 1 % benign false positives). Jailbreak rows are counted apart and are outside the detection target.`,
    '',
    ...targets(results, throughput),
    '',
    ...summaryTable(results),
    '',
    '### Per file (test split)',
    '',
    ...breakdownTable(results, 'test', 'perFile'),
    '',
    '### Per category (test split)',
    '',
    ...breakdownTable(results, 'test', 'perCategory'),
    '',
    '### Per file (train split)',
    '',
    ...breakdownTable(results, 'train', 'perFile'),
    '',
    `### Throughput (keel rules+classifier, one core; machine load ${loadAverage()})`,
    '',
    ...throughputTable(throughput),
    '',
    'Per-category numbers for the train split are in bench/results/security.json.',
  ].join('\n');
  console.log(markdown);
  if (values['no-write'] !== true) writeReport(markdown, { date: new Date().toISOString(), node: process.version, results, throughput, peerProblem });
}

await main();
