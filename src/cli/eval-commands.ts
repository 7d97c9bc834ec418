import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { positiveInteger } from './option-values.ts';
import type { EvalCommandOptions } from './eval-command.ts';

/* `keel eval`: run a suite, compare two runs, render a run's report, list runs. The work is in eval-command.ts. */

const work = () => import('./eval-command.ts');

export function registerEvalCommands(program: Command, context: CliContext, action: Action): void {
  const evaluation = program
    .command('eval')
    .description('Evaluate an agent with a suite of cases: checks on outputs and trajectories, judges, cassettes, compare runs');

  evaluation
    .command('run', { isDefault: true })
    .description('Run a suite module (default-exports defineEvalSuite({...})); `keel eval <suite>` is short for it')
    .argument('<suite>', 'path to the suite module (.ts or .js)')
    .option('--json', 'print only the run summary, as one JSON line (last line of output)')
    .option('--concurrency <n>', 'cases running at once (default: the suite\'s, else 4)', positiveInteger('--concurrency'))
    .option('--repeat <n>', 'runs of each case (default: the suite\'s, else 1)', positiveInteger('--repeat'))
    .option('--case <id>', 'run only this case (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--model <spec>', "the agent's model for every case (default: the suite's, else the agent's, else KEEL_MODEL)")
    .option('--judge-model <spec>', 'the judge model when the suite names none')
    .option('--record', 'record every model call into a cassette stored with the run')
    .option('--replay [run-id]', "answer every model call from a recorded run's cassette, offline (default: the suite's latest --record run)")
    .option('--report <file>', 'write the self-contained HTML report of the run to this file')
    .option('--server-url <url>', 'base of the trace links in the report (where `keel serve` runs)')
    .addHelpText('after', '\nExit codes: 0 when every threshold is met; 1 when one is missed, a case could not run, or a replay request is not in its cassette.')
    .action(action(async (suite: string, options: EvalCommandOptions, command: Command) => (await work()).runEvalCommand(context, command, suite, options)));

  evaluation
    .command('compare')
    .description("Compare two runs per case and per check: regressions, improvements, cost and latency (Fisher's exact test, Mann–Whitney U)")
    .argument('<run-a>', 'the baseline run id')
    .argument('<run-b>', 'the run to judge against it')
    .option('--json', 'print the comparison as one JSON line')
    .addHelpText('after', '\nExit codes: 0 when nothing regressed; 1 when a case or a check passed less often in run B.')
    .action(action(async (runA: string, runB: string, options: { json?: boolean }, command: Command) => (await work()).compareCommand(context, command, runA, runB, options)));

  evaluation
    .command('report')
    .description('Write the self-contained HTML report of a stored run')
    .argument('<run-id>')
    .option('--out <file>', 'where to write it (default: eval-<run-id>.html)')
    .option('--server-url <url>', 'base of the trace links (where `keel serve` runs)')
    .action(action(async (runId: string, options: { out?: string; serverUrl?: string }, command: Command) => (await work()).reportCommand(context, command, runId, options)));

  evaluation
    .command('runs')
    .description('List stored eval runs, newest first')
    .option('--suite <name>', 'only runs of this suite')
    .option('--limit <n>', 'at most this many (default 20)', positiveInteger('--limit'))
    .option('--json', 'one JSON line per run')
    .action(action(async (options: { suite?: string; limit?: number; json?: boolean }, command: Command) => (await work()).listRunsCommand(context, command, options)));
}
