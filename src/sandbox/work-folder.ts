import { lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { ConcurrencyLimiter } from './concurrency.ts';
import { assertReadableBySandboxUser, giveToSandboxUser } from './sandbox-user.ts';
import { sweepWriteFolder } from './write-folder-guard.ts';

export interface WorkFolder {
  /** The real path (symbolic links resolved: Node's permission model and bind mounts both need the real one). */
  readonly path: string;
  /** Removes a temporary folder; sweeps a caller's `writePath` (links, setuid bits) and lets the next job in. */
  release(): Promise<void>;
}

/** One job at a time per persistent folder in this process, so that the sweeps around a job see a still folder. */
const folderLocks = new Map<string, { readonly limiter: ConcurrencyLimiter; users: number }>();

/**
 * The caller's `writePath` (created if missing), or a fresh private temporary folder; under a root host either is
 * handed to the sandbox user. A `writePath` waits for any other job of this process using it (bounded by `signal`),
 * and is swept before the job starts: whatever was left there is not trusted.
 */
export async function prepareWorkFolder(writePath: string | undefined, wait: FolderWait): Promise<WorkFolder> {
  if (writePath === undefined) {
    const path = realpathSync(mkdtempSync(join(tmpdir(), 'keel-sandbox-')));
    giveToSandboxUser(path);
    return { path, release: () => removeTemporaryFolder(path) };
  }
  if (!isAbsolute(writePath)) throw new KeelError('invalid-config', `writePath must be an absolute path, got "${writePath}".`);
  mkdirSync(writePath, { recursive: true });
  const path = realpathSync(writePath);
  const unlock = await lockWriteFolder(path, wait);
  try {
    giveToSandboxUser(path);
    await sweepWriteFolder(path);
  } catch (error) {
    unlock();
    throw error;
  }
  return {
    path,
    release: async () => {
      try {
        await sweepWriteFolder(path);
      } finally {
        unlock();
      }
    },
  };
}

export interface FolderWait {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * A job running as the host's own user (a host that is not root) can leave folders it made unwritable (chmod 500),
 * which `rm -r` cannot empty; they are opened up, without following links, and removed again.
 */
async function removeTemporaryFolder(path: string): Promise<void> {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    await openUpFolders(path);
    rmSync(path, { recursive: true, force: true });
  }
}

async function openUpFolders(root: string): Promise<void> {
  const folders = [root];
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    await chmod(folder, 0o700);
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) folders.push(join(folder, entry.name));
    }
  }
}

async function lockWriteFolder(path: string, wait: FolderWait): Promise<() => void> {
  let lock = folderLocks.get(path);
  if (lock === undefined) {
    lock = { limiter: new ConcurrencyLimiter(1), users: 0 };
    folderLocks.set(path, lock);
  }
  const entry = lock;
  entry.users += 1;
  const forget = (): void => {
    entry.users -= 1;
    if (entry.users === 0) folderLocks.delete(path);
  };
  const waiting = new AbortController();
  const timer = setTimeout(() => {
    waiting.abort(
      new KeelError('tool-timeout', `The job waited its whole wall-clock limit of ${wait.timeoutMs} ms (timeoutMs) for another job to finish with the write folder "${path}" and never started.`, {
        details: { limit: 'timeoutMs', value: wait.timeoutMs, writePath: path },
      }),
    );
  }, wait.timeoutMs);
  const onAbort = (): void => waiting.abort(new KeelError('cancelled', 'The job was cancelled while it waited for its write folder.', { cause: wait.signal?.reason }));
  wait.signal?.addEventListener('abort', onAbort, { once: true });
  if (wait.signal?.aborted === true) onAbort();
  try {
    const release = await entry.limiter.acquire(waiting.signal);
    return () => {
      release();
      forget();
    };
  } catch (error) {
    forget();
    throw error;
  } finally {
    clearTimeout(timer);
    wait.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Writes the job's files into the folder. The host writes them with its own rights, so a name that would land
 * outside is refused, and so is a path through a symbolic link: an earlier job in the same `writePath` could have
 * planted one pointing anywhere on the host. Under a root host, what it creates belongs to the sandbox user.
 */
export function writeJobFiles(folder: string, files: Readonly<Record<string, string>>): void {
  for (const [name, content] of Object.entries(files)) {
    const target = join(folder, name);
    const inside = relative(folder, target);
    if (isAbsolute(name) || inside === '' || inside.startsWith('..') || isAbsolute(inside)) {
      throw new KeelError('invalid-argument', `File "${name}" must be a relative path inside the work folder.`);
    }
    const parts: string[] = [];
    let current = folder;
    for (const part of inside.split(sep)) {
      current = join(current, part);
      parts.push(current);
      if (lstatSync(current, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
        throw new KeelError('sandbox-violation', `File "${name}" goes through a symbolic link in the work folder; the host will not follow it.`);
      }
    }
    mkdirSync(dirname(target), { recursive: true });
    rmSync(target, { force: true });
    // 'wx' fails rather than follows if a link appeared since the check.
    writeFileSync(target, content, { flag: 'wx' });
    for (const path of parts) giveToSandboxUser(path);
  }
}

/**
 * Absolute, existing host paths with links resolved, readable by the user jobs run as; a missing one is a
 * configuration error, not a silent skip.
 */
export function resolveReadPaths(readPaths: readonly string[] | undefined): string[] {
  return (readPaths ?? []).map((path) => {
    if (!isAbsolute(path)) throw new KeelError('invalid-config', `readPaths must be absolute paths, got "${path}".`);
    let real: string;
    try {
      real = realpathSync(path);
    } catch (error) {
      throw new KeelError('invalid-config', `readPaths entry "${path}" does not exist.`, { cause: error });
    }
    assertReadableBySandboxUser(real);
    return real;
  });
}
