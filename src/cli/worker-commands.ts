import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';
import { positiveInteger } from './option-values.ts';
import type { WorkerCommandOptions } from './worker-driver.ts';

/*
 * `keel worker`: a stateless worker that runs queued sessions from PostgreSQL. Its work is in worker-driver.ts,
 * loaded when it runs; `keel run --queue` and `keel approve --queue` use the same driver.
 */

const driver = () => import('./worker-driver.ts');

export function registerWorkerCommands(program: Command, context: CliContext, action: Action): void {
  program
    .command('worker')
    .description('Run queued sessions: claim them from the run queue in PostgreSQL (KEEL_DATABASE_URL) and run them until stopped')
    .requiredOption('--agents <paths...>', 'agent modules, or folders whose .ts/.mts/.js/.mjs files are agent modules; queued sessions name one of these agents')
    .option('--database-url <url>', 'PostgreSQL holding the journal, leases and run queue (default KEEL_DATABASE_URL)')
    .option('--concurrency <count>', 'sessions run at once', positiveInteger('--concurrency'), 32)
    .option('--lease-ttl <ms>', 'how long a claim and a lease last without renewal: a dead worker\'s sessions move on after it', positiveInteger('--lease-ttl'), 30_000)
    .option('--grace <ms>', 'on SIGTERM or Ctrl-C, how long running sessions may finish before they are handed off to other workers', positiveInteger('--grace'), 30_000)
    .option('--model <spec>', 'model for sessions whose agent and queue entry name none')
    .option('--json', 'print one JSON line per claim and settlement')
    .addHelpText('after', `
Stops on SIGTERM or Ctrl-C: it claims nothing more, lets running sessions finish for --grace, then hands the rest
off (each stops before its next write and is queued again) and exits 0. A second signal exits at once; the sessions
it held are resumed by other workers once their leases expire.`)
    .action(action(async (options: WorkerCommandOptions) => (await driver()).runWorker(context, options)));
}
