/**
 * The labelled injection dataset the security benchmark reads: `<folder>/{train,test}/*.jsonl`, rows
 * `{"id","text","label","category"}` with `label` `injection` or `benign` and `category` `<vector>:<type>` or
 * `benign:<kind>`. The folder is not part of the repository: `--data DIR`, else `KEEL_INJECTION_DATA`, else
 * `../shared/datasets/injection` beside the repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Split = 'train' | 'test';

export interface LabelledRow {
  readonly split: Split;
  readonly file: string;
  readonly id: string;
  readonly text: string;
  readonly injection: boolean;
  readonly category: string;
}

const repositoryRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** The dataset folder, or an error that says how to name one. */
export function datasetFolder(argument: string | undefined): string {
  const named = argument ?? process.env.KEEL_INJECTION_DATA;
  const folder = named === undefined ? resolve(repositoryRoot, '..', 'shared', 'datasets', 'injection') : resolve(named);
  if (!existsSync(join(folder, 'train')) || !existsSync(join(folder, 'test'))) {
    throw new Error(`No injection dataset at ${folder} (it needs train/ and test/ folders of .jsonl files). Pass --data DIR or set KEEL_INJECTION_DATA.`);
  }
  return folder;
}

export function loadSplit(folder: string, split: Split): LabelledRow[] {
  const rows: LabelledRow[] = [];
  for (const file of readdirSync(join(folder, split)).filter((name) => name.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(folder, split, file), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const row = JSON.parse(line) as { id: string; text: string; label: string; category: string };
      rows.push({ split, file: file.replace(/\.jsonl$/, ''), id: row.id, text: row.text, injection: row.label === 'injection', category: row.category });
    }
  }
  return rows;
}

/** Jailbreaks are measured but left out of the injection target (they are role-play prompts, not injected data). */
export function isJailbreak(row: LabelledRow): boolean {
  return row.category.endsWith(':jailbreak');
}
