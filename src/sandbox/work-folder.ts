import { lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { KeelError } from '../errors/index.ts';

export interface WorkFolder {
  /** The real path (symbolic links resolved: Node's permission model and bind mounts both need the real one). */
  readonly path: string;
  /** Removes a temporary folder; leaves a caller's `writePath` in place. */
  release(): void;
}

/** The caller's `writePath` (created if missing), or a fresh private temporary folder. */
export function prepareWorkFolder(writePath: string | undefined): WorkFolder {
  if (writePath !== undefined) {
    if (!isAbsolute(writePath)) throw new KeelError('invalid-config', `writePath must be an absolute path, got "${writePath}".`);
    mkdirSync(writePath, { recursive: true });
    return { path: realpathSync(writePath), release: () => {} };
  }
  const path = realpathSync(mkdtempSync(join(tmpdir(), 'keel-sandbox-')));
  return { path, release: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Writes the job's files into the folder. The host writes them with its own rights, so a name that would land
 * outside is refused, and so is a path through a symbolic link: an earlier job in the same `writePath` could have
 * planted one pointing anywhere on the host.
 */
export function writeJobFiles(folder: string, files: Readonly<Record<string, string>>): void {
  for (const [name, content] of Object.entries(files)) {
    const target = join(folder, name);
    const inside = relative(folder, target);
    if (isAbsolute(name) || inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      throw new KeelError('invalid-argument', `File "${name}" must be a relative path inside the work folder.`);
    }
    let current = folder;
    for (const part of inside.split(sep)) {
      current = join(current, part);
      if (lstatSync(current, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
        throw new KeelError('sandbox-violation', `File "${name}" goes through a symbolic link in the work folder; the host will not follow it.`);
      }
    }
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true });
    // 'wx' fails rather than follows if a link appeared since the check.
    writeFileSync(target, content, { flag: 'wx' });
  }
}

/** Absolute, existing host paths with links resolved; a missing one is a configuration error, not a silent skip. */
export function resolveReadPaths(readPaths: readonly string[] | undefined): string[] {
  return (readPaths ?? []).map((path) => {
    if (!isAbsolute(path)) throw new KeelError('invalid-config', `readPaths must be absolute paths, got "${path}".`);
    try {
      return realpathSync(path);
    } catch (error) {
      throw new KeelError('invalid-config', `readPaths entry "${path}" does not exist.`, { cause: error });
    }
  });
}
