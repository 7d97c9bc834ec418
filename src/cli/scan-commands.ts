import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';

/* `keel scan`: the prompt-injection detectors for operators and evaluations; the work is in scan-command.ts. */
export function registerScanCommand(program: Command, context: CliContext, action: Action): void {
  program
    .command('scan')
    .description('Scan text for prompt injection (rules and the learned classifier); exit 0 whatever it finds')
    .argument('[file]', 'file to scan; - or nothing reads standard input')
    .option('--jsonl', 'one item per line, {"id","text","source"?}; one result line per input line, in order')
    .option('--json', 'print the result for the whole input as JSON')
    .action(action(async (file: string | undefined, options: { jsonl?: boolean; json?: boolean }) => {
      const { runScanCommand } = await import('./scan-command.ts');
      return runScanCommand({ file, jsonl: options.jsonl === true, json: options.json === true, cwd: context.cwd, stdin: process.stdin, out: context.out });
    }));
}
