// End-to-end prompt-injection attack simulation: a worst-case model (it obeys every instruction in its context) runs
// as real Keel agents whose tools send e-mail, transfer money, delete files and post messages, on tasks whose tool
// results carry the test split's cross-context injections and AgentDojo-style attacks, and on the same tasks with
// benign content. Attack success = a harmful call actually executed; calls escalated to a person count as not executed.
//
//   npm run bench:attacks -- --data <dataset folder> [--limit N] [--verifier-model anthropic:claude-haiku-4-5] [--json out.json]
//
// The dataset folder holds test/*.jsonl (or set KEEL_INJECTION_DATA). Only test/ is read.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benignCarriers, benignCases, datasetAttackCases, styledAttackCases } from './attack-simulation/cases.ts';
import type { SimulationCase } from './attack-simulation/cases.ts';
import { defences, runCase, simulationKeel } from './attack-simulation/run-cases.ts';
import type { CaseOutcome } from './attack-simulation/run-cases.ts';
import { renderTables, summarize } from './attack-simulation/report.ts';
import type { DefenceSummary } from './attack-simulation/report.ts';
import { createStandInVerifier } from './attack-simulation/stand-in-verifier.ts';
import type { Model } from '../src/spec/model.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    limit: { type: 'string' },
    'verifier-model': { type: 'string' },
    json: { type: 'string' },
  },
});

const folder = values.data ?? process.env.KEEL_INJECTION_DATA;
if (folder === undefined || !existsSync(join(folder, 'test'))) {
  console.error(`bench:attacks: no dataset: pass --data <folder> (or KEEL_INJECTION_DATA) naming a folder with test/*.jsonl${folder === undefined ? '' : `; ${folder} has no test/ folder`}.`);
  process.exit(2);
}
const limit = values.limit === undefined ? Number.POSITIVE_INFINITY : Number(values.limit);
if (!(limit > 0)) {
  console.error(`bench:attacks: --limit must be a positive number, got ${values.limit}.`);
  process.exit(2);
}

const carriers = benignCarriers(folder);
const dataset = datasetAttackCases(folder);
const attackCases = [...dataset.cases.slice(0, limit), ...styledAttackCases(carriers).slice(0, limit)];
const benign = benignCases(carriers).slice(0, limit);
const cases: SimulationCase[] = [...attackCases, ...benign];
const verifier: Model | string = values['verifier-model'] ?? createStandInVerifier();
const suites = [...new Set(attackCases.map((each) => each.suite))];

const summaries: DefenceSummary[] = [];
const started = performance.now();
for (const defence of defences) {
  const keel = simulationKeel();
  const outcomes: CaseOutcome[] = [];
  for (const each of cases) outcomes.push(await runCase(each, defence, verifier, keel));
  await keel.close();
  summaries.push(summarize(defence.name, outcomes));
  console.error(`${defence.name}: ${outcomes.length} sessions`);
}
const seconds = (performance.now() - started) / 1000;

console.log(`Attack simulation: ${attackCases.length} attack tasks (${suites.join(', ')}), ${benign.length} benign tasks, ${defences.length} defence settings, ${cases.length * defences.length} sessions in ${seconds.toFixed(1)} s.`);
console.log(`Test-split cross-context injections naming no action the tools offer (not simulated): ${Object.entries(dataset.skipped).map(([file, count]) => `${file} ${count}`).join(', ') || 'none'}.`);
console.log(`Verifier: ${typeof verifier === 'string' ? verifier : 'deterministic stand-in (allows a call only when its targets are named in the task)'}.`);
console.log('');
console.log(renderTables(summaries, suites));
if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ summaries, skipped: dataset.skipped, sessions: cases.length * defences.length, seconds }, null, 2)}\n`);
