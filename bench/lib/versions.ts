import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/lib/../..). */
export const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The installed version of a package in the repository's node_modules, or "?" when it cannot be read. */
export function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : '?';
  } catch {
    return '?';
  }
}

/** Keel's own version and commit-independent identity, from the repository's package.json. */
export function keelVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : '?';
  } catch {
    return '?';
  }
}
