import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import type { Action, CliContext } from './cli-context.ts';

/** The module a folder stands for, in this order: the system it declares, else its agent. */
export const systemModuleNames: readonly string[] = ['system.ts', 'system.mts', 'system.js', 'system.mjs', 'agent.ts', 'agent.mts', 'agent.js', 'agent.mjs'];

export interface CheckCommandOptions {
  readonly module: string;
  readonly json: boolean;
  readonly explain: boolean;
}

/** `keel check <module>`: the static checker. Exit 0 when every property holds, 1 when one fails or the module cannot be loaded. */
export function registerCheckCommand(program: Command, context: CliContext, action: Action): void {
  program
    .command('check')
    .description('Prove an agent system bounded, approved, narrowing, idempotent, injection-safe and within budget, without running it; exit 1 on a violation')
    .argument('<module>', 'module whose default export is an agent, a workflow, or an array or object of them (named exports policy and budget are read too); a folder means its system.ts, else its agent.ts')
    .option('--json', 'print the whole report as JSON, facts included')
    .option('--explain', 'print, per property, the facts its proof relied on (guards, rules, scope sets)')
    .addHelpText('after', '\nExit codes: 0 every property holds; 1 a property is violated (each counterexample path is printed) or the module cannot be loaded; 2 usage error.\nSee docs/check.md.')
    .action(action(async (module: string, options: { json?: boolean; explain?: boolean }) => runCheckCommand(context, { module, json: options.json === true, explain: options.explain === true })));
}

export async function runCheckCommand(context: CliContext, options: CheckCommandOptions): Promise<number> {
  const path = resolveSystemModule(options.module, context.cwd);
  // Imported when the command runs, so that registering it does not load the checker and the loop for every command.
  const { checkSystem, formatCheckReport, systemFromModule } = await import('../check/index.ts');
  const { importUserModule } = await import('./load-agent.ts');
  const { loaded, modulePath } = await importUserModule(path, context.cwd);
  const report = checkSystem(systemFromModule(loaded, modulePath));
  if (options.json) {
    context.out(JSON.stringify({ module: modulePath, ...report }));
  } else {
    const subject = relative(context.cwd, modulePath) || modulePath;
    for (const line of formatCheckReport(report, { explain: options.explain, subject })) context.out(line);
  }
  return report.holds ? 0 : 1;
}

/** A module path as given, or the system module of a folder. */
export function resolveSystemModule(path: string, cwd: string): string {
  const absolute = resolve(cwd, path);
  if (!existsSync(absolute)) throw new KeelError('invalid-argument', `Module not found: ${absolute}.`);
  if (!statSync(absolute).isDirectory()) return absolute;
  const found = systemModuleNames.map((name) => join(absolute, name)).find((candidate) => existsSync(candidate));
  if (found === undefined) {
    throw new KeelError('invalid-argument', `${absolute} is a folder without a system module: keel check looks there for ${systemModuleNames.join(', ')}. Name the module to check, or add system.ts with \`export default [agent, ...]\`.`);
  }
  return found;
}
