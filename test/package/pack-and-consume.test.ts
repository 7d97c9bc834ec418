// The package as a user gets it: `npm pack` (which builds dist/), the tarball installed into a new project from the
// npm cache alone, then docs/use-in-your-project.md followed as written, in a folder with "type": "module" and in
// one without: a strict NodeNext type-check with the DOM types loaded, agents from .ts and .mjs modules run through
// the installed `keel` command and through a plain `node` import (require(esm) in the CommonJS folder).
//
// One install serves every case. better-sqlite3 is installed without its install script, which would compile it for
// minutes (it is better-sqlite3's build, not Keel's), and gets the binary this checkout's install built for this
// Node; Keel's own postinstall then runs as npm runs it.
import { spawnSync } from 'node:child_process';
import type { SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/index.ts';
import { consumerProject } from './consumer-lockfile.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const guide = readFileSync(join(root, 'docs', 'use-in-your-project.md'), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'keel-pack-'));
const project = join(scratch, 'project');
const installed = join(project, 'node_modules', 'keel');
const folders = { module: join(project, 'module'), commonjs: join(project, 'commonjs') } as const;
type FolderKind = keyof typeof folders;
const task = 'What is 2 + 3?';

/** Child processes get no npm lifecycle variables (npm_config_local_prefix would point npm at this repository). */
const environment: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^(npm_|INIT_CWD$|NODE_OPTIONS$|NODE_ENV$|KEEL_|ANTHROPIC_|OPENAI_)/i.test(name)),
);
environment.npm_config_update_notifier = 'false';

function run(command: string, args: readonly string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env: environment, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

function runShell(line: string, cwd: string): SpawnSyncReturns<string> {
  return spawnSync('sh', ['-c', line], { cwd, env: environment, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

function succeeded(result: SpawnSyncReturns<string>, what: string): SpawnSyncReturns<string> {
  if (result.status !== 0) throw new Error(`${what} exited ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  return result;
}

/** The files of the guide: each fenced block right after a `<!-- file: name -->` marker. */
function guideFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of guide.matchAll(/<!-- file: (\S+) -->\n```\w*\n([\s\S]*?)```/g)) files.set(match[1] as string, match[2] as string);
  return files;
}

/** The commands of the guide's Run section, one a line. */
function guideCommands(): string[] {
  const block = /<!-- commands -->\n```bash\n([\s\S]*?)```/.exec(guide);
  if (block === null) throw new Error('docs/use-in-your-project.md has no <!-- commands --> block.');
  return (block[1] as string).split('\n').filter((line) => line.trim() !== '');
}

const extraFiles = {
  'agent.mjs': `import { z } from 'zod';
import { defineAgent, defineTool } from 'keel';

const add = defineTool({
  name: 'add',
  description: 'Adds two numbers.',
  input: z.object({ a: z.number(), b: z.number() }),
  risk: 'read',
  execute: async ({ a, b }) => ({ sum: a + b }),
});

export default defineAgent({ name: 'adder-js', instructions: 'Add the numbers with the add tool.', tools: [add] });
`,
  'run-mjs.mjs': `import { createKeel } from 'keel';
import agent from './agent.mjs';

const keel = createKeel({ model: 'scripted:model.json' });
const result = await keel.run(agent, ${JSON.stringify(task)}).result;
await keel.close();
console.log(JSON.stringify({ sessionId: result.sessionId, status: result.status, output: result.output }));
`,
  'broken.ts': `function loadSettings(): never {
  throw new Error('ORDERS_URL is not set');
}

loadSettings();
export default {};
`,
};

const outcomes: Record<FolderKind, Map<string, SpawnSyncReturns<string>>> = { module: new Map(), commonjs: new Map() };

function install(): void {
  const tarballs = join(scratch, 'tarballs');
  mkdirSync(tarballs, { recursive: true });
  succeeded(run('npm', ['pack', '--pack-destination', tarballs], root), 'npm pack');
  const tarball = readdirSync(tarballs).find((name) => name.endsWith('.tgz'));
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball into ${tarballs}.`);
  mkdirSync(project, { recursive: true });
  const registry = succeeded(run('npm', ['config', 'get', 'registry'], project), 'npm config get registry').stdout.trim();
  const consumer = consumerProject({
    repositoryLockfile: join(root, 'package-lock.json'),
    keelManifest: join(root, 'package.json'),
    keelSpec: `file:../tarballs/${tarball}`,
    keelTarball: join(tarballs, tarball),
    dependencies: ['zod'],
    devDependencies: ['typescript', '@types/node', 'tsx'],
    registry: registry.endsWith('/') ? registry : `${registry}/`,
  });
  // The project root has no "type": that is the CommonJS case; module/ says "type": "module".
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'keel-consumer', version: '1.0.0', private: true, ...consumer.manifest }, null, 2)}\n`);
  writeFileSync(join(project, 'package-lock.json'), `${JSON.stringify(consumer.lockfile, null, 2)}\n`);
  succeeded(run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project), 'npm ci --offline');
  const binary = join('better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  mkdirSync(dirname(join(project, 'node_modules', binary)), { recursive: true });
  copyFileSync(join(root, 'node_modules', binary), join(project, 'node_modules', binary));
  succeeded(run('npm', ['rebuild', 'keel', 'esbuild', '--offline', '--foreground-scripts'], project), 'npm rebuild keel esbuild (their install scripts)');
}

function followGuide(kind: FolderKind): void {
  const folder = folders[kind];
  mkdirSync(folder, { recursive: true });
  const manifest = kind === 'module' ? { name: 'module-consumer', private: true, type: 'module' } : { name: 'commonjs-consumer', private: true };
  writeFileSync(join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const [name, text] of [...guideFiles(), ...Object.entries(extraFiles)]) writeFileSync(join(folder, name), text);
  const results = outcomes[kind];
  for (const line of guideCommands()) {
    if (line.includes('<sessionId>')) {
      const session = JSON.parse(lastLine(results.get('node run.js')?.stdout ?? '{}')) as { sessionId?: string };
      results.set('trace', runShell(line.replace('<sessionId>', session.sessionId ?? 'missing'), folder));
    } else {
      results.set(line.replace(/\s+#.*$/, '').trim(), runShell(line, folder));
    }
  }
  results.set('keel run agent.mjs', runShell(`npx keel run agent.mjs "${task}" --model scripted:model.json --json`, folder));
  results.set('node run-mjs.mjs', run(process.execPath, ['run-mjs.mjs'], folder));
  results.set('keel run broken.ts', runShell('npx keel run broken.ts --model scripted:model.json', folder));
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1) ?? '';
}

function outcome(kind: FolderKind, key: string): SpawnSyncReturns<string> {
  const result = outcomes[kind].get(key);
  if (result === undefined) throw new Error(`No step "${key}" ran in ${kind}/; the guide's commands were: ${[...outcomes[kind].keys()].join(' | ')}`);
  return result;
}

function expectSucceeded(result: SpawnSyncReturns<string>): void {
  expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)));
}

beforeAll(() => {
  install();
  followGuide('module');
  followGuide('commonjs');
}, 30 * 60_000);

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
}, 10 * 60_000);

describe('the packed package', () => {
  it('holds the compiled package, its postinstall script and legal files, and no tests, benchmarks or scratch files', () => {
    const files = filesUnder(installed);
    for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'dist/index.d.ts.map', 'dist/testing/index.js', 'dist/testing/index.d.ts', 'dist/cli/bin.js', 'scripts/rebuild-better-sqlite3.mjs', 'scripts/node-object-wrap-compat.h']) {
      expect(files).toContain(required);
    }
    expect(files.filter((file) => /^(test|bench|examples|coverage|tmp|\.keel)\/|\.test\.ts$|\.db$/.test(file))).toEqual([]);
    expect(readFileSync(join(installed, 'dist', 'cli', 'bin.js'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  it('has every file that the compiled modules load by path beside them', () => {
    const modules = filesUnder(join(installed, 'dist')).filter((file) => file.endsWith('.js'));
    const loaded: string[] = [];
    for (const file of modules) {
      const text = readFileSync(join(installed, 'dist', file), 'utf8');
      for (const match of text.matchAll(/new URL\(['"](\.{1,2}\/[^'"]+)['"], import\.meta\.url\)/g)) loaded.push(join(dirname(file), match[1] as string));
    }
    expect(loaded.length).toBeGreaterThanOrEqual(2);
    for (const target of loaded) expect(existsSync(join(installed, 'dist', target)), target).toBe(true);
  });

  it('declarations import .js files, and only the CLI agent loader mentions tsx', () => {
    const dist = filesUnder(join(installed, 'dist'));
    const tsSpecifiers = dist.filter((file) => file.endsWith('.d.ts') && /(from|import\()\s*['"]\.{1,2}\/[^'"]*\.[mc]?ts['"]/.test(readFileSync(join(installed, 'dist', file), 'utf8')));
    expect(tsSpecifiers).toEqual([]);
    const mentionsTsx = dist.filter((file) => file.endsWith('.js') && /['"]tsx(\/[^'"]*)?['"]/.test(readFileSync(join(installed, 'dist', file), 'utf8')));
    expect(mentionsTsx).toEqual(['cli/load-agent.js']);
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).not.toContain('tsx');
  });
});

describe.each(['module', 'commonjs'] as const)('a project %s, following docs/use-in-your-project.md', (kind) => {
  it('type-checks under strict NodeNext with the DOM types loaded', () => {
    expectSucceeded(outcome(kind, 'npx tsc'));
    expect(existsSync(join(folders[kind], 'run.js'))).toBe(true);
  });

  it('runs the .ts agent through the installed keel command', () => {
    expectSucceeded(outcome(kind, `npx keel run agent.ts "${task}" --model scripted:model.json`));
  });

  it('runs the compiled agent by importing keel in plain node (require(esm) without "type": "module")', () => {
    const result = outcome(kind, 'node run.js');
    expectSucceeded(result);
    expect(JSON.parse(lastLine(result.stdout))).toMatchObject({ status: 'completed', output: '2 + 3 = 5.' });
    const compiled = readFileSync(join(folders[kind], 'run.js'), 'utf8');
    expect(compiled.includes('require("keel")')).toBe(kind === 'commonjs');
  });

  it('traces a session with the installed keel command', () => {
    const result = outcome(kind, 'trace');
    expectSucceeded(result);
    expect(result.stdout).toContain('add');
  });

  it('runs a .mjs agent through the keel command and through a plain node import', () => {
    const viaCommand = outcome(kind, 'keel run agent.mjs');
    expectSucceeded(viaCommand);
    expect(JSON.parse(lastLine(viaCommand.stdout))).toMatchObject({ status: 'completed', turns: 2 });
    const viaImport = outcome(kind, 'node run-mjs.mjs');
    expectSucceeded(viaImport);
    expect(JSON.parse(lastLine(viaImport.stdout))).toMatchObject({ status: 'completed', output: '2 + 3 = 5.' });
  });

  it('shows where an agent module threw while loading', () => {
    const result = outcome(kind, 'keel run broken.ts');
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('ORDERS_URL is not set');
    expect(result.stderr).toMatch(/loadSettings/);
    expect(result.stderr).toMatch(/broken\.ts:\d+/);
  });

  it('journaled every run: the add tool ran and returned 5, each session completed', async () => {
    const keel = createKeel({ database: join(folders[kind], '.keel', 'keel.db') });
    try {
      const sessions = await keel.sessions({ limit: 50 });
      // agent.ts through keel run, run.js, agent.mjs through keel run, run-mjs.mjs.
      expect(sessions.map((session) => session.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
      for (const session of sessions) {
        const events = await keel.events(session.sessionId);
        const toolResults = events.filter((event) => event.type === 'tool-result');
        expect(toolResults).toHaveLength(1);
        expect(toolResults[0]).toMatchObject({ tool: 'add' });
        expect(JSON.parse((toolResults[0] as { output: string }).output)).toEqual({ sum: 5 });
      }
    } finally {
      await keel.close();
    }
  });
});
