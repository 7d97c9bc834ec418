/**
 * The two published JavaScript detectors `npm run bench:security` compares against, installed by the benchmark
 * itself into a scratch folder under the system temporary directory (never into the project):
 * `@andersmyrmel/vard` (regular-expression rules, moderate preset) and `llm_guardrail` (TF-IDF and logistic
 * regression; its prompt-injection model).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface PeerDetector {
  readonly name: string;
  /** True when the peer flags the text. */
  detect(text: string): Promise<boolean>;
}

const packages = ['@andersmyrmel/vard@1.2.0', 'llm_guardrail@2.1.2'];
export const peerFolder = join(tmpdir(), 'keel-bench-security-peers');

/** Installs the peers (once; a later run reuses the folder) and returns why not when npm fails. */
function install(): string | undefined {
  if (existsSync(join(peerFolder, 'node_modules', 'llm_guardrail', 'package.json')) && existsSync(join(peerFolder, 'node_modules', '@andersmyrmel', 'vard', 'package.json'))) return undefined;
  mkdirSync(peerFolder, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', peerFolder, ...packages], { encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0) return `npm install ${packages.join(' ')} failed (exit ${result.status ?? result.signal}): ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ')}`;
  return undefined;
}

interface VardModule {
  readonly default: { moderate(): { maxLength(length: number): { safeParse(input: string): { safe: boolean } } } };
}
interface GuardrailModule {
  checkInjection(prompt: string): Promise<{ detected: boolean }>;
}

/** The peers ready to run, or the reason they are not (the benchmark then reports Keel alone). */
export async function loadPeers(): Promise<{ peers: PeerDetector[]; problem?: string }> {
  const problem = install();
  if (problem !== undefined) return { peers: [], problem };
  const modules = join(peerFolder, 'node_modules');
  const vard = (await import(pathToFileURL(join(modules, '@andersmyrmel', 'vard', 'dist', 'index.js')).href)) as VardModule;
  const guardrail = (await import(pathToFileURL(join(modules, 'llm_guardrail', 'index.js')).href)) as GuardrailModule;
  // vard refuses inputs over its maxLength (10,000 by default) as a threat; the comparison is about detection.
  const moderate = vard.default.moderate().maxLength(100_000_000);
  return {
    peers: [
      { name: 'vard 1.2.0 (moderate)', detect: async (text) => !moderate.safeParse(text).safe },
      { name: 'llm_guardrail 2.1.2 (injection model)', detect: async (text) => (await guardrail.checkInjection(text)).detected },
    ],
  };
}
