import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess, SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the CLI runs from there, as `npm run keel` does. */
export const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin', 'keel.js');

export interface CliRunOptions {
  readonly env?: Record<string, string | undefined>;
  /** Run as another user (the tests run as root in CI, where file modes do not bind root). */
  readonly uid?: number;
  readonly gid?: number;
}

/** The environment of a child CLI: no provider keys or Keel settings leak in from the machine running the tests. */
function childEnvironment(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const merged: Record<string, string | undefined> = {
    ...process.env,
    ANTHROPIC_API_KEY: undefined,
    OPENAI_API_KEY: undefined,
    KEEL_MODEL: undefined,
    KEEL_DB: undefined,
    npm_lifecycle_event: undefined,
    ...extra,
  };
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key];
  return merged as NodeJS.ProcessEnv;
}

/** Runs `keel <args>` to completion in a child process. */
export function keel(args: readonly string[], options: CliRunOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: childEnvironment(options.env),
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
  });
}

/** Starts `keel <args>` and leaves it running, for a test that signals it. */
export function startKeel(args: readonly string[], options: CliRunOptions = {}): ChildProcess {
  return spawn(process.execPath, [bin, ...args], { cwd: root, env: childEnvironment(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The last line of stdout as JSON (the `--json` summary of run, resume, approve). */
export function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}
