import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { createProgram, exitCodesHelp } from '../../src/cli/program.ts';
import { root } from './run-cli.ts';

const reference = readFileSync(join(root, 'docs', 'cli.md'), 'utf8');

function everyCommand(command: Command): Command[] {
  return command.commands.filter((child) => child.name() !== 'help').flatMap((child) => [child, ...everyCommand(child)]);
}

/** The long flags a command's help lists (its own, not the global ones). */
function ownFlags(help: string): string[] {
  const options = help.split(/\n(?=[A-Z][A-Za-z ]+:\n)/).find((section) => section.startsWith('Options:')) ?? '';
  return [...options.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((match) => match[1]!).filter((flag) => flag !== '--help');
}

describe('docs/cli.md is the help text, as a reference', () => {
  const program = createProgram({ out: () => undefined, err: () => undefined, env: {}, cwd: root, prefix: 'keel', exitCode: 0 });

  it('documents every command with its usage line and every option the help lists', () => {
    const commands = everyCommand(program).filter((command) => command.commands.length === 0);
    expect(commands.length).toBeGreaterThanOrEqual(16);
    for (const command of commands) {
      const help = command.helpInformation();
      const usage = /^Usage: (.+)$/m.exec(help)?.[1];
      expect(reference, `usage of ${usage}`).toContain(`\`${usage}\``);
      const section = reference.slice(reference.indexOf(`\`${usage}\``)).split('\n#### ')[0]!;
      for (const flag of ownFlags(help)) expect(section, `${flag} of ${usage}`).toContain(`\`${flag}`);
    }
  });

  it('documents the exit codes of keel --help', () => {
    const codes = [...exitCodesHelp.matchAll(/^ {2}(\d+) /gm)].map((match) => match[1]);
    expect(codes).toEqual(['0', '1', '2', '130', '143']);
    for (const code of codes) expect(reference).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
  });
});
