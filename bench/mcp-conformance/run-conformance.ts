// `npm run conformance`: the official MCP conformance suite against Keel's MCP client. The suite (and a Node 22 to
// run it, since it needs one while Keel supports Node 20) is installed by npm into a scratch folder under the
// system's temporary folder, never into the project; every client scenario it lists then runs against
// keel-client.ts, one at a time, and the table is printed (Markdown with --markdown).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const suiteVersion = '0.1.16';
const nodeMajor = 22;
const here = dirname(fileURLToPath(import.meta.url));
const scratch = join(tmpdir(), `keel-mcp-conformance-${suiteVersion}`);
const markdown = process.argv.includes('--markdown');
const only = process.argv.find((argument) => argument.startsWith('--scenario='))?.slice('--scenario='.length);

/** Scenarios that test something Keel's client does not claim, with the reason; they still run and are reported. */
const notApplicable: Record<string, string> = {
  'auth/cross-app-access-complete-flow':
    'extension (enterprise-managed authorization, SEP-990): needs an identity provider token exchanged for an ID-JAG grant, which Keel does not implement',
};

interface Outcome {
  readonly scenario: string;
  readonly passed: boolean;
  readonly checks: string;
  readonly note: string;
}

function install(): string {
  const nodePackage = `node-${process.platform}-${process.arch}`;
  const suiteEntry = join(scratch, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const nodeBinary = join(scratch, 'node_modules', nodePackage, 'bin', 'node');
  if (!existsSync(suiteEntry) || !existsSync(nodeBinary)) {
    mkdirSync(scratch, { recursive: true });
    writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'keel-mcp-conformance', private: true }));
    process.stderr.write(`Installing @modelcontextprotocol/conformance@${suiteVersion} and ${nodePackage}@${nodeMajor} into ${scratch}\n`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `@modelcontextprotocol/conformance@${suiteVersion}`, `${nodePackage}@${nodeMajor}`], { cwd: scratch, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return nodeBinary;
}

function listClientScenarios(nodeBinary: string, suiteEntry: string): string[] {
  const text = execFileSync(nodeBinary, [suiteEntry, 'list'], { encoding: 'utf8' });
  const section = text.slice(text.indexOf('Client scenarios'));
  return [...section.matchAll(/^\s+- (\S+)/gm)].map((match) => match[1] ?? '').filter((name) => name !== '');
}

function runScenario(nodeBinary: string, suiteEntry: string, scenario: string): Promise<Outcome> {
  const loader = import.meta.resolve('tsx');
  const command = `${JSON.stringify(process.execPath)} --import ${loader} ${JSON.stringify(join(here, 'keel-client.ts'))}`;
  return new Promise((resolve) => {
    const child = spawn(nodeBinary, [suiteEntry, 'client', '--command', command, '--scenario', scenario, '--timeout', '60000'], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('close', (code) => {
      // eslint-disable-next-line no-control-regex
      const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
      const summary = /Passed: (\d+)\/(\d+), (\d+) failed, (\d+) warnings/.exec(plain);
      const passed = code === 0 && /OVERALL: PASSED/.test(plain);
      const failures = [...plain.matchAll(/\[([\w-]+)\s*\] FAILURE (.*)/g)].map((match) => `${match[1] ?? ''}: ${(match[2] ?? '').slice(0, 160)}`);
      resolve({
        scenario,
        passed,
        checks: summary === null ? '0/0' : `${summary[1]}/${summary[2]}${summary[4] !== '0' ? ` (${summary[4]} warnings)` : ''}`,
        note: notApplicable[scenario] ?? failures.join('; '),
      });
    });
  });
}

async function main(): Promise<void> {
  const nodeBinary = install();
  const suiteEntry = join(scratch, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
  const scenarios = listClientScenarios(nodeBinary, suiteEntry).filter((name) => only === undefined || name === only);
  const outcomes: Outcome[] = [];
  for (const scenario of scenarios) {
    const outcome = await runScenario(nodeBinary, suiteEntry, scenario);
    outcomes.push(outcome);
    process.stderr.write(`${outcome.passed ? 'pass' : 'FAIL'}  ${scenario}  ${outcome.checks}\n`);
  }
  const status = (outcome: Outcome): string => (outcome.passed ? 'pass' : notApplicable[outcome.scenario] === undefined ? 'FAIL' : 'n/a');
  if (markdown) {
    process.stdout.write(`| scenario | result | checks | note |\n|---|---|---|---|\n`);
    for (const outcome of outcomes) process.stdout.write(`| \`${outcome.scenario}\` | ${status(outcome)} | ${outcome.checks} | ${outcome.note.replace(/\|/g, '\\|')} |\n`);
  } else {
    const width = Math.max(...outcomes.map((outcome) => outcome.scenario.length));
    for (const outcome of outcomes) process.stdout.write(`${outcome.scenario.padEnd(width)}  ${status(outcome).padEnd(4)}  ${outcome.checks.padEnd(8)}  ${outcome.note}\n`);
  }
  const applicable = outcomes.filter((outcome) => notApplicable[outcome.scenario] === undefined);
  const failed = applicable.filter((outcome) => !outcome.passed).length;
  process.stdout.write(`\n@modelcontextprotocol/conformance ${suiteVersion}: ${applicable.length - failed}/${applicable.length} applicable client scenarios pass; ${outcomes.length - applicable.length} not applicable\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}

await main();
