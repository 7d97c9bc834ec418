// `npm run test:faults`: the fault suite at full size. Every fault of the list (provider errors on the real SDK
// classes against the mock servers, tool faults, storage faults) runs `--runs` times; each run checks its outcome,
// that the journal is valid and nothing was lost or duplicated, and each scenario ends by checking that the process
// is still healthy. Prints one summary table; exits 1 if any row missed its expectation.
//
//   node --import tsx bench/fault-suite.ts [--runs 20] [--seed 1] [--only id,id] [--verbose]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { faultScenarios } from '../test/suites/fault-scenarios.ts';
import { formatFaultNotes, formatFaultTable, runFaultSuite } from '../test/suites/fault-suite-runner.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    only: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, got ${values.runs}`);

const started = performance.now();
const rows = await runFaultSuite(faultScenarios(), {
  runs,
  seed: Number(values.seed),
  ...(values.only === undefined ? {} : { only: values.only.split(',') }),
  onRow: (row) => {
    if (values.verbose) console.error(`${row.passed ? 'ok  ' : 'MISS'} ${row.id} (${(row.wallMs / 1000).toFixed(1)} s): ${row.outcome} / ${row.code}`);
  },
});
const wall = (performance.now() - started) / 1000;
console.log(`Fault suite: ${runs} runs per fault, seed ${values.seed}, Node ${process.version}, ${cpus().length} cores, ${wall.toFixed(1)} s\n`);
console.log(formatFaultTable(rows));
const notes = formatFaultNotes(rows);
if (notes !== '') console.log(`\nNotes:\n${notes}`);
const missed = rows.filter((row) => !row.passed);
for (const row of missed) {
  console.log(`\nMISS ${row.id}:`);
  for (const problem of row.problems.slice(0, 20)) console.log(`- ${problem}`);
}
const skipped = rows.filter((row) => row.skipped !== null);
console.log(`\n${missed.length === 0 ? 'PASS' : 'FAIL'}: ${rows.length - missed.length - skipped.length} of ${rows.length - skipped.length} faults as expected${skipped.length > 0 ? `, ${skipped.length} skipped` : ''}; events lost ${rows.reduce((sum, row) => sum + row.lostEvents, 0)}, duplicated effects ${rows.reduce((sum, row) => sum + row.duplicatedEffects, 0)}.`);
process.exitCode = missed.length === 0 ? 0 : 1;
