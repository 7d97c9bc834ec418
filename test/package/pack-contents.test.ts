// What `npm pack` would ship, from npm's own file list (a dry run; no build). The installed package's contents are
// checked by pack-and-consume.test.ts.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const environment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(npm_|INIT_CWD$)/i.test(name)));

interface Manifest {
  main: string;
  types: string;
  bin: Record<string, string>;
  exports: Record<string, string | Record<string, string>>;
  files: string[];
  scripts: Record<string, string>;
}

let packed: string[] | undefined;

function packedFiles(): string[] {
  if (packed !== undefined) return packed;
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, env: environment, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`npm pack --dry-run exited ${result.status ?? result.signal}: ${result.stderr}`);
  const [pack] = JSON.parse(result.stdout) as { files: { path: string }[] }[];
  packed = (pack?.files ?? []).map((file) => file.path);
  return packed;
}

describe('npm pack', () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;

  it('ships no tests, benchmarks, examples, scratch folders or databases', () => {
    const files = packedFiles();
    expect(files.filter((file) => /^(test|bench|examples|coverage|tmp|docs|\.keel|\.ci|node_modules)\/|\.test\.ts$|\.(db|db-wal|db-shm|log|cpuprofile)$/.test(file))).toEqual([]);
    for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'src/index.ts']) expect(files).toContain(required);
  });

  it('ships the postinstall script and everything it reads', () => {
    const files = packedFiles();
    const postinstall = /^node (\S+)$/.exec(manifest.scripts.postinstall ?? '')?.[1];
    expect(postinstall).toBeDefined();
    expect(files).toContain(postinstall);
    expect(files).toContain('scripts/node-object-wrap-compat.h');
  });

  it('points every entry point at dist/, declarations first', () => {
    const targets = [manifest.main, manifest.types, ...Object.values(manifest.bin)];
    for (const [subpath, conditions] of Object.entries(manifest.exports)) {
      if (subpath === './package.json') continue;
      expect(typeof conditions).toBe('object');
      const entries = Object.entries(conditions as Record<string, string>);
      expect(entries[0]?.[0]).toBe('types');
      targets.push(...entries.map(([, target]) => target));
    }
    for (const target of targets) expect(target).toMatch(/^\.\/dist\/.+\.(js|d\.ts)$/);
    expect(manifest.files).toContain('dist');
  });
});
