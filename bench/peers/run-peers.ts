// `npm run bench:peers`: Keel measured side by side with the peer frameworks (OpenAI Agents SDK, AI SDK, LangGraph,
// Mastra) through the project's peer harness (bench/peers/suite), in one run of its run-all.mjs, so every ratio
// comes from the same repetition on the same machine.
//
//   tsx bench/peers/run-peers.ts [--quick] [--reps N] [--modes seq,conc] [--seq-sessions N] [--conc-sessions N]
//                                [--peers oai,aisdk,lg,mastra] [--harness DIR] [--scratch DIR] [--name NAME]
//                                [--baseline DIR]
//   tsx bench/peers/run-peers.ts --summarize bench/results/peers/peers.jsonl      (tables and chart only)
//
// It copies the harness (bench/peers/suite, or --harness DIR / KEEL_PEER_HARNESS) to a scratch folder
// (--scratch reuses one so the peers' installs are cached), runs `npm install` in each peer folder, writes Keel's
// adapters (scratch/keel/*.mjs), runs harness/run-all.mjs, and writes bench/results/peers/NAME.{jsonl,md,svg,log}
// plus NAME-harness-summary.md when the harness has its own summarize.mjs. A peer whose install fails is not measured.
// --quick: one repetition, each peer's main adapter only, 100 seq and 200 conc sessions.
// --baseline DIR: also measures the Keel of another checkout (an earlier commit, with its node_modules) in the same
// run, as keel-sqlite@<commit> and so on: a before-and-after comparison whose ratios come from one repetition.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgresServer } from '../../src/testing/postgres-server.ts';
import type { PostgresServerProcess } from '../../src/testing/postgres-server.ts';
import { peerChartPanels, renderChart } from './chart.ts';
import { renderSummary } from './report.ts';
import type { PeerInstall, RunFacts } from './report.ts';
import { copyHarness, installedPeers, installPeer, locateHarness, peerAdapters, writeKeelAdapters } from './scratch.ts';
import { checkTargets, parseResultLines, preferredOrder } from './summary.ts';
import type { HarnessResult } from './summary.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const resultsFolder = join(repositoryRoot, 'bench', 'results', 'peers');
/** Measured only when a local PostgreSQL can be started (startPeerPostgres). */
const postgresPeerAdapter = 'lg/adapter-postgres.mjs';

interface Options {
  readonly quick: boolean;
  readonly reps: number;
  readonly modes: readonly string[];
  readonly seqSessions: number;
  readonly concSessions: number;
  readonly peers: readonly string[];
  readonly harness: string | undefined;
  readonly scratch: string | undefined;
  readonly name: string;
  readonly summarize: string | undefined;
  readonly baseline: string | undefined;
}

const usage = 'usage: tsx bench/peers/run-peers.ts [--quick] [--reps N] [--modes seq,conc] [--seq-sessions N] [--conc-sessions N] [--peers oai,aisdk,lg,mastra] [--harness DIR] [--scratch DIR] [--name NAME] [--baseline DIR] [--summarize FILE.jsonl]';

function parseOptions(argv: readonly string[]): Options {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  for (let index = 0; index < argv.length; index += 1) {
    const argument = argv[index] as string;
    if (argument === '--quick' || argument === '--help') flags.add(argument.slice(2));
    else if (argument.startsWith('--') && argv[index + 1] !== undefined) {
      values.set(argument.slice(2), argv[index + 1] as string);
      index += 1;
    } else throw new Error(`unknown or incomplete argument "${argument}"\n${usage}`);
  }
  if (flags.has('help')) {
    console.log(usage);
    process.exit(0);
  }
  const known = new Set(['reps', 'modes', 'seq-sessions', 'conc-sessions', 'peers', 'harness', 'scratch', 'name', 'summarize', 'baseline']);
  for (const key of values.keys()) if (!known.has(key)) throw new Error(`unknown option --${key}\n${usage}`);
  const count = (key: string, fallback: number) => {
    const value = Number(values.get(key) ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${key} must be a positive integer\n${usage}`);
    return value;
  };
  const quick = flags.has('quick');
  const modes = (values.get('modes') ?? 'seq,conc').split(',');
  if (modes.some((mode) => mode !== 'seq' && mode !== 'conc')) throw new Error(`--modes takes seq and/or conc\n${usage}`);
  const peers = (values.get('peers') ?? installedPeers.join(',')).split(',').filter((peer) => peer !== '');
  for (const peer of peers) if (!(installedPeers as readonly string[]).includes(peer)) throw new Error(`unknown peer "${peer}" (${installedPeers.join(', ')})`);
  return {
    quick,
    reps: count('reps', quick ? 1 : 3),
    modes,
    seqSessions: count('seq-sessions', quick ? 100 : 200),
    concSessions: count('conc-sessions', quick ? 200 : 1000),
    peers,
    harness: values.get('harness'),
    scratch: values.get('scratch'),
    name: values.get('name') ?? (quick ? 'peers-quick' : 'peers'),
    summarize: values.get('summarize'),
    baseline: values.get('baseline'),
  };
}

/** The short commit of a checkout, or its folder's name when it is not a git work tree. */
function commitOf(folder: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: folder, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return basename(folder);
  }
}

function gitCommit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repositoryRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no', '--', 'src') === '' ? `commit ${commit}` : `commit ${commit} + uncommitted changes in src/`;
  } catch {
    return 'commit unknown';
  }
}

/**
 * A hash of every file under src/. Other people edit this checkout while a run goes on, and each measurement
 * process loads src/ afresh, so the summary says whether the sources changed between the start and the end.
 */
function sourceFingerprint(): string {
  const hash = createHash('sha256');
  const source = join(repositoryRoot, 'src');
  const files = readdirSync(source, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name)).sort();
  for (const file of files) hash.update(relative(source, file)).update('\0').update(readFileSync(file)).update('\0');
  return hash.digest('hex').slice(0, 12);
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GB, Node ${process.version}, ${os.type()} ${os.release()}`;
}

/** The adapters for run-all.mjs. Its --adapters replaces its default list, so every peer adapter is named here. */
function adapterList(options: Options, measuredPeers: readonly string[], extraPeerFiles: readonly string[], keelFiles: readonly string[]): string[] {
  const folders = ['raw', ...measuredPeers];
  const peers = folders.flatMap((folder) => (options.quick ? (peerAdapters[folder] ?? []).slice(0, 1) : (peerAdapters[folder] ?? [])));
  return [...peers, ...extraPeerFiles, ...keelFiles];
}

/**
 * LangGraph with its PostgreSQL checkpointer needs a server: a throwaway local cluster (the test kit's, on 127.0.0.1,
 * stopped at the end) when PostgreSQL's binaries are installed; without them that adapter is left out and said so.
 */
async function startPeerPostgres(options: Options, measuredPeers: readonly string[], notMeasured: string[]): Promise<PostgresServerProcess | undefined> {
  if (options.quick || !measuredPeers.includes('lg')) return undefined;
  try {
    const server = await startPostgresServer({ settings: { max_connections: '400' } });
    process.env.KEEL_PEER_POSTGRES_URL = server.url;
    return server;
  } catch (error) {
    notMeasured.push(`langgraph+PostgresSaver (no local PostgreSQL could be started: ${(error instanceof Error ? error.message : String(error)).split('\n')[0] ?? ''})`);
    return undefined;
  }
}

/** Runs run-all.mjs, echoing its progress and keeping a log, while sampling the load average every 15 s. */
function runHarness(scratch: string, args: readonly string[], logFile: string, loadSamples: number[], onResult: () => void): Promise<number> {
  return new Promise((resolvePromise) => {
    const log = createWriteStream(logFile);
    // Its own process group, so stopping this script can stop run-all together with its mocks and the measurement
    // process: run-all.mjs does not pass signals on to its children.
    const child = spawn(process.execPath, [join(scratch, 'harness', 'run-all.mjs'), ...args], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const sampler = setInterval(() => loadSamples.push(os.loadavg()[0] ?? Number.NaN), 15_000);
    const echo = (chunk: Buffer) => {
      process.stdout.write(chunk);
      log.write(chunk);
      // run-all prints one "rep N ..." line per finished measurement, after appending it to the results file.
      if (/^rep \d/m.test(chunk.toString('utf8'))) onResult();
    };
    child.stdout.on('data', echo);
    child.stderr.on('data', echo);
    const stop = () => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    child.on('close', (code) => {
      clearInterval(sampler);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      log.end(() => resolvePromise(code ?? -1));
    });
  });
}

function harnessSummary(scratch: string, jsonl: string): string | undefined {
  if (!existsSync(join(scratch, 'harness', 'summarize.mjs'))) return undefined;
  try {
    return execFileSync(process.execPath, [join(scratch, 'harness', 'summarize.mjs'), jsonl], { encoding: 'utf8' });
  } catch (error) {
    return `summarize.mjs failed: ${error instanceof Error ? error.message : String(error)}\n`;
  }
}

/** Writes NAME.md and NAME.svg from the results and prints the target check. */
function writeOutputs(results: readonly HarnessResult[], facts: RunFacts, name: string): void {
  const summaryFile = join(resultsFolder, `${name}.md`);
  const chartFile = join(resultsFolder, `${name}.svg`);
  writeFileSync(summaryFile, renderSummary(results, facts));
  // The run's facts (load, installs, duration) can only be observed during the run; kept so --summarize can redo
  // the tables later without losing them.
  writeFileSync(join(resultsFolder, `${name}.run.json`), `${JSON.stringify(facts, null, 2)}\n`);
  const repetitions = new Set(results.map((result) => result.rep)).size;
  const subtitle = `${facts.date.slice(0, 10)}, ${repetitions} rep(s), medians; dashed line: raw-fetch; ${facts.machine.split(',')[0] ?? ''}, load ${facts.load.start[0]?.toFixed(1) ?? '?'}`;
  writeFileSync(chartFile, renderChart('Keel and peer agent frameworks: client overhead on the same mock workload', subtitle, peerChartPanels(results, preferredOrder)));
  console.log('\nPerformance targets:');
  for (const check of checkTargets(results)) console.log(`  ${check.status.padEnd(12)} ${check.target}: ${check.measured}`);
  console.log(`\nsummary ${relative(process.cwd(), summaryFile)}\nchart   ${relative(process.cwd(), chartFile)}`);
}

/** What can be said about a run known only from its results file. */
function factsFromResults(results: readonly HarnessResult[], file: string, command: string, date: Date): RunFacts {
  const load = os.loadavg();
  return {
    title: 'Keel and the peer frameworks (summarised from an existing results file)', date: date.toISOString(), command, machine: machine(),
    commit: `${gitCommit()}; src/ fingerprint now ${sourceFingerprint()}`, harness: `results file ${file}`, scratch: 'n/a', quick: false,
    reps: new Set(results.map((result) => result.rep)).size, modes: [...new Set(results.map((result) => result.mode))],
    seqSessions: results.find((result) => result.mode === 'seq')?.sessions ?? 0, concSessions: results.find((result) => result.mode === 'conc')?.sessions ?? 0,
    durationMinutes: Number.NaN, load: { start: load, end: load, samples: [] }, installs: [], notMeasured: [],
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  mkdirSync(resultsFolder, { recursive: true });
  const startedAt = new Date();
  const command = `tsx bench/peers/run-peers.ts ${process.argv.slice(2).join(' ')}`.trim();

  if (options.summarize !== undefined) {
    // Summarise an existing results file (for example of a run that went on in the background).
    const file = resolve(options.summarize);
    const results = parseResultLines(readFileSync(file, 'utf8'));
    const recorded = file.replace(/\.jsonl$/, '.run.json');
    const runFacts = existsSync(recorded) ? (JSON.parse(readFileSync(recorded, 'utf8')) as RunFacts) : undefined;
    const facts: RunFacts = runFacts === undefined ? factsFromResults(results, file, command, startedAt) : { ...runFacts, resummarizedBy: command };
    writeOutputs(results, facts, options.name === 'peers' ? basename(file, '.jsonl') : options.name);
    return;
  }

  const harness = locateHarness(repositoryRoot, options.harness);
  const scratch = resolve(options.scratch ?? mkdtempSync(join(os.tmpdir(), 'keel-peers-')));
  console.log(`harness ${harness}\nscratch ${scratch}  (pass --scratch ${scratch} to reuse its installs)`);
  copyHarness(harness, scratch, repositoryRoot);
  const keelFiles = writeKeelAdapters(scratch, repositoryRoot);
  if (options.baseline !== undefined) {
    const baseline = resolve(options.baseline);
    const label = commitOf(baseline);
    keelFiles.push(...writeKeelAdapters(scratch, baseline, { folder: 'keel-baseline', suffix: `@${label}` }));
    console.log(`baseline Keel ${baseline} (measured as keel-*@${label})`);
  }

  const installs: PeerInstall[] = [];
  const notMeasured: string[] = [];
  const installStarted = performance.now();
  for (const peer of options.peers) {
    process.stdout.write(`npm install in ${peer} ... `);
    const outcome = await installPeer(scratch, peer);
    installs.push(outcome);
    console.log(outcome.status === 'failed' ? `FAILED after ${outcome.seconds.toFixed(0)} s; ${peer} is not measured.\n${outcome.detail}` : `${outcome.status}${outcome.status === 'installed' ? ` in ${outcome.seconds.toFixed(0)} s` : ''}`);
    if (outcome.status === 'failed') notMeasured.push(`${peer} (npm install failed: ${outcome.detail.split('\n')[0] ?? ''})`);
  }
  for (const peer of installedPeers) if (!options.peers.includes(peer)) notMeasured.push(`${peer} (left out with --peers)`);
  console.log(`installs took ${((performance.now() - installStarted) / 1000).toFixed(0)} s`);

  const measuredPeers = options.peers.filter((peer) => installs.find((install) => install.peer === peer)?.status !== 'failed');
  const postgres = await startPeerPostgres(options, measuredPeers, notMeasured);
  const adapters = adapterList(options, measuredPeers, postgres === undefined ? [] : [postgresPeerAdapter], keelFiles);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const scratchResults = join(scratch, 'results', `${options.name}-${stamp}.jsonl`);
  const args = ['--reps', String(options.reps), '--modes', options.modes.join(','), '--seqSessions', String(options.seqSessions), '--concSessions', String(options.concSessions), '--adapters', adapters.join(','), '--out', scratchResults];
  console.log(`\nnode harness/run-all.mjs ${args.join(' ')}`);
  const sourceAtStart = sourceFingerprint();
  const loadStart = os.loadavg();
  const loadSamples: number[] = [loadStart[0] ?? Number.NaN];
  const runStarted = performance.now();
  const jsonl = join(resultsFolder, `${options.name}.jsonl`);
  const factsNow = (state: 'running' | 'finished' | 'stopped'): RunFacts => {
    const sourceNow = sourceFingerprint();
    const sources = sourceAtStart === sourceNow ? `src/ fingerprint ${sourceAtStart}, unchanged during the run` : `src/ fingerprint ${sourceAtStart} at the start and ${sourceNow} at the end: **src/ changed during the run**, so measurements may mix versions`;
    return {
      title: `Keel and the peer agent frameworks${options.quick ? ' (quick)' : ''}${{ running: ' (partial: the run was still going)', finished: '', stopped: ' (incomplete: run-all stopped early)' }[state]}`, date: startedAt.toISOString(), command, machine: machine(), commit: `${gitCommit()}; ${sources}`,
      harness, scratch, quick: options.quick, reps: options.reps, modes: options.modes, seqSessions: options.seqSessions, concSessions: options.concSessions,
      durationMinutes: (performance.now() - runStarted) / 60_000, load: { start: loadStart, end: os.loadavg(), samples: [...loadSamples] }, installs, notMeasured,
    };
  };
  // Keeps the repository's copy of the results and the run's facts current, so a long run can be summarised with
  // --summarize while it goes on, or after it was stopped.
  const keepCurrent = () => {
    if (!existsSync(scratchResults)) return;
    copyFileSync(scratchResults, jsonl);
    writeFileSync(join(resultsFolder, `${options.name}.run.json`), `${JSON.stringify(factsNow('running'), null, 2)}\n`);
  };
  rmSync(jsonl, { force: true });
  const code = await runHarness(scratch, args, join(resultsFolder, `${options.name}.log`), loadSamples, keepCurrent).finally(() => postgres?.stop());
  if (code !== 0) console.error(`run-all.mjs exited ${code}; summarising what it wrote.`);

  if (existsSync(scratchResults)) copyFileSync(scratchResults, jsonl);
  const ownSummary = harnessSummary(scratch, scratchResults);
  if (ownSummary !== undefined) writeFileSync(join(resultsFolder, `${options.name}-harness-summary.md`), ownSummary);
  const results = parseResultLines(existsSync(jsonl) ? readFileSync(jsonl, 'utf8') : '');
  const facts = factsNow(code === 0 ? 'finished' : 'stopped');
  writeOutputs(results, facts, options.name);
  console.log(`results ${relative(process.cwd(), jsonl)}\nlog     ${relative(process.cwd(), join(resultsFolder, `${options.name}.log`))}\nrun-all took ${facts.durationMinutes.toFixed(1)} min`);
  if (code !== 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
