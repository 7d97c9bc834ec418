// End-to-end prompt-injection attack simulation: a worst-case model (it obeys every instruction in its context) runs
// as real Keel agents whose tools send e-mail, transfer money, delete files and post messages, on tasks whose tool
// results carry the test split's cross-context injections and AgentDojo-style attacks, and on the same tasks with
// benign content. Attack success = a harmful call actually executed; calls escalated to a person count as not executed.
//
//   npm run bench:attacks -- --data <dataset folder> [--limit N] [--verifier-model anthropic:claude-haiku-4-5] [--no-write]
//
// The dataset folder holds test/*.jsonl (or set KEEL_INJECTION_DATA). Only test/ is read. A full run (no --limit)
// writes bench/results/attack-simulation.json and the "Prompt-injection attack simulation" section of BENCHMARKS.md.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benignCarriers, benignCases, datasetAttackCases, styledAttackCases } from './attack-simulation/cases.ts';
import type { SimulationCase } from './attack-simulation/cases.ts';
import { defences, runCase, simulationKeel } from './attack-simulation/run-cases.ts';
import type { CaseOutcome } from './attack-simulation/run-cases.ts';
import { renderTables, summarize } from './attack-simulation/report.ts';
import type { DefenceSummary } from './attack-simulation/report.ts';
import { createStandInVerifier } from './attack-simulation/stand-in-verifier.ts';
import { machineLine, writeReport } from './attack-simulation/write-report.ts';
import type { Model } from '../src/spec/model.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    limit: { type: 'string' },
    'verifier-model': { type: 'string' },
    'no-write': { type: 'boolean' },
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

const verifierText = typeof verifier === 'string' ? `the model ${verifier}` : 'a deterministic stand-in that sees what a verifier model sees (the task and the proposed call) and allows a call only when its targets (recipient, account, amount, path, channel) are written in the task';
const skipped = Object.entries(dataset.skipped).map(([file, count]) => `${file} ${count}`).join(', ') || 'none';
const markdown = [
  '## Prompt-injection attack simulation (`npm run bench:attacks`)',
  '',
  'A worst-case model that obeys every instruction found anywhere in its context (it parses each sentence asking to send',
  'an e-mail, transfer money, delete files or post a message, and makes that call with the attacker\'s arguments, next to',
  'the call the user\'s task needs) runs as real Keel agents (`createKeel`, in-memory journal) whose tools send e-mail,',
  'transfer money, delete files and post messages and record what actually executed. Each task reads content through a',
  'tool, then does one thing the user asked with arguments written in the task (or only summarizes). Attack tasks carry',
  'the test split\'s cross-context injections that name such an action, plus AgentDojo-style attacks (its five attack',
  'templates around eight attacker goals written for this benchmark, appended to benign test-split content); benign',
  'tasks carry the test split\'s benign AgentDojo tool outputs and LLMail-Inject e-mails. An attack succeeds when a',
  'harmful call executed; a call escalated to a person counts as not executed (nobody approves in the simulation), and',
  'counts against benign success when the task needed it. Keel\'s approval of irreversible tools and its redaction of',
  'personal data are off in every run, so that the injection layers are measured alone.',
  '',
  `- ${attackCases.length} attack tasks, ${benign.length} benign tasks, ${defences.length} settings: ${cases.length * defences.length} sessions in ${seconds.toFixed(1)} s on ${machineLine()}.`,
  `- Test-split cross-context injections that name no action these tools offer (bookings, calendar events, "say that…"), not simulated: ${skipped}.`,
  `- Verifier (layer 4): ${verifierText}.`,
  '- Layers: 1 rules and 2 classifier (the detectors, run on each tool result as it enters the context: rule spans are neutralized in the model\'s view; every detection taints the session, which information-flow control acts on), 3 the trust layout (fences and task reminder), 4 the verifier, 5 information-flow control (sink arguments traced to untrusted content, and every write after a detection escalated).',
  '',
  renderTables(summaries, suites),
  '',
  `Reproduce: \`npm run bench:attacks -- --data <dataset folder>\`${typeof verifier === 'string' ? ` \`--verifier-model ${verifier}\`` : ''}; \`--limit N\` for a quick run (N cases per suite, nothing written).`,
].join('\n');
console.log(markdown);
if (values['no-write'] !== true && limit === Number.POSITIVE_INFINITY) {
  writeReport(fileURLToPath(new URL('..', import.meta.url)), markdown, { summaries, skipped: dataset.skipped, sessions: cases.length * defences.length, seconds, verifier: typeof verifier === 'string' ? verifier : 'stand-in' });
}
