import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { defineTool, KeelError } from '../../src/index.ts';
import type { ToolDefinition } from '../../src/index.ts';
import { createBubblewrapRunner } from '../../src/sandbox/index.ts';
import type { SandboxRunner } from '../../src/sandbox/index.ts';

/** Largest file the tools read or ship into the sandbox; the example's repository is far below it. */
const maxFileBytes = 256 * 1024;
/** Most files the repository may hold: the walk stops instead of reading a runaway tree. */
const maxFiles = 200;
/** Most lines a grep answers with, so one broad pattern cannot flood the reviewer's context. */
const maxGrepLines = 50;

/** The change under review: a repository (the tree after the change) and the unified diff that produced it. */
export interface ReviewedChange {
  /** Absolute path of the repository's folder. */
  readonly repository: string;
  /** The unified diff, as `git diff` printed it. */
  readonly diff: string;
}

/** The example's own change: the small orders service and the patch that planted three problems in it. */
export function exampleChange(): ReviewedChange {
  const folder = import.meta.dirname;
  return { repository: join(folder, 'repository'), diff: readFileSync(join(folder, 'change.diff'), 'utf8') };
}

/** Every file of the repository by relative path ('/'-separated), read once per call. */
export function repositoryFiles(repository: string): Record<string, string> {
  const files: Record<string, string> = {};
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        if (Object.keys(files).length >= maxFiles) throw new KeelError('invalid-argument', `The repository at ${repository} has more than ${maxFiles} files; review a smaller tree.`);
        files[relative(repository, path).split(sep).join('/')] = readCapped(path);
      }
    }
  };
  walk(repository);
  return files;
}

function readCapped(path: string): string {
  const text = readFileSync(path, 'utf8');
  if (Buffer.byteLength(text) > maxFileBytes) throw new KeelError('invalid-argument', `${path} is larger than ${maxFileBytes} bytes; the review tools read smaller files only.`);
  return text;
}

/**
 * The test report without its timings: the same tests give the same report, so a recorded review replays bit for bit
 * (a cassette matches each model request by hash, and the report is part of the next request).
 */
export function withoutTimings(report: string): string {
  return report
    .split('\n')
    .filter((line) => !/^\s*(?:# )?duration_ms\b/.test(line))
    .join('\n');
}

/** A path inside the repository, or an error naming the escape: neither `../` nor a symbolic link leaves the reviewed tree. */
function insideRepository(repository: string, path: string): string {
  const root = realpathSync(repository);
  const given = resolve(root, path);
  let full: string;
  try {
    full = realpathSync(given);
  } catch {
    throw new KeelError('invalid-argument', `${path} does not exist in the repository under review; list files with grep or read the diff.`);
  }
  if (full !== root && !full.startsWith(root + sep)) throw new KeelError('invalid-argument', `${path} is outside the repository under review; give a path relative to its root, like src/orders.mjs.`);
  return full;
}

/**
 * The reviewers' tools, all read-only: the diff, a file with line numbers, a literal-text grep, and the repository's
 * tests run under bubblewrap (a copy of the files in a private work folder, no network), so nothing a reviewer does
 * can change the repository.
 */
export function createReviewTools(change: ReviewedChange, runner: SandboxRunner = createBubblewrapRunner()): Record<'showDiff' | 'readFile' | 'grep' | 'runTests', ToolDefinition> {
  return {
    showDiff: defineTool({
      name: 'show_diff',
      description: 'Shows the change under review as a unified diff (lines starting with + were added).',
      input: z.object({}),
      risk: 'read',
      execute: () => change.diff,
    }),
    readFile: defineTool({
      name: 'read_file',
      description: 'Reads a file of the repository after the change, each line prefixed with its number, like "12| code".',
      input: z.object({ path: z.string().min(1).max(300).describe('Relative to the repository root, like src/orders.mjs.') }),
      risk: 'read',
      execute: ({ path }) => readCapped(insideRepository(change.repository, path)).split('\n').map((line, index) => `${index + 1}| ${line}`).join('\n'),
    }),
    grep: defineTool({
      name: 'grep',
      description: 'Finds the lines of the repository that contain a literal text (not a regular expression), as "path:line: text".',
      input: z.object({ text: z.string().min(1).max(200) }),
      risk: 'read',
      execute: ({ text }) => {
        const hits = Object.entries(repositoryFiles(change.repository)).flatMap(([path, content]) =>
          content.split('\n').flatMap((line, index) => (line.includes(text) ? [`${path}:${index + 1}: ${line.trim()}`] : [])),
        );
        const shown = hits.slice(0, maxGrepLines).join('\n');
        return hits.length === 0 ? `No line contains "${text}".` : hits.length > maxGrepLines ? `${shown}\n(${hits.length - maxGrepLines} more lines)` : shown;
      },
    }),
    runTests: defineTool({
      name: 'run_tests',
      description: "Runs the repository's tests (node --test) in a sandbox and returns the runner's report and exit code.",
      input: z.object({}),
      risk: 'read',
      timeoutMs: 65_000,
      execute: async (_input, { signal }) => {
        const files = repositoryFiles(change.repository);
        const tests = Object.keys(files).filter((path) => /\.test\.m?js$/.test(path)).sort();
        if (tests.length === 0) return { exitCode: null, passed: false, report: 'The repository has no test files (*.test.mjs or *.test.js).' };
        const result = await runner.run({ kind: 'command', argv: ['node', '--test', '--test-reporter=tap', ...tests], files }, { timeoutMs: 60_000, memoryMb: 512 }, signal);
        return { exitCode: result.exitCode, passed: result.exitCode === 0, report: withoutTimings(`${result.stdout}${result.stderr === '' ? '' : `\n${result.stderr}`}`) };
      },
    }),
  };
}
