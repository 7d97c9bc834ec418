import { constants } from 'node:fs';
import { chmod, lstat, open, readdir, readlink, realpath, unlink } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { KeelError } from '../errors/index.ts';

// A persistent write path outlives the job that wrote it: the next job, another runner, or the host itself reads
// what it left. Two things a job can leave there are traps for whoever comes next:
// - a symbolic link pointing outside the folder (Node's permission model follows links, and the host might too);
// - a setuid or setgid file, which anyone who runs it later runs with the job's identity.
// So the folder is swept before and after every job that uses it, while no other job of this process can change
// it (see `lockWriteFolder`): links that are absolute, dangling or resolve outside are removed, and the setuid and
// setgid bits are cleared. Absolute links go even when they would point inside, because their meaning depends on
// who reads them: an absolute path inside bubblewrap (under its `/work` mount) names something else on the host.

/** A sweep visits at most this many entries; a folder larger than that cannot be vouched for and is refused. */
export const maximumSweptEntries = 100_000;
/** S_ISUID | S_ISGID (Node's fs.constants types leave them out). */
const privilegeBits = 0o6000;

export interface SweepReport {
  readonly removedLinks: readonly string[];
  readonly clearedPrivilegeBits: readonly string[];
}

/** Removes escaping links and clears setuid/setgid bits under `root` (a real path), never following a link. */
export async function sweepWriteFolder(root: string): Promise<SweepReport> {
  const removedLinks: string[] = [];
  const clearedPrivilegeBits: string[] = [];
  const folders = [root];
  let visited = 0;
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    for (const name of await listFolder(folder, root)) {
      visited += 1;
      if (visited > maximumSweptEntries) throw tooLarge(root);
      const path = join(folder, name);
      try {
        const subfolder = await sweepEntry(root, path, { removedLinks, clearedPrivilegeBits });
        if (subfolder) folders.push(path);
      } catch (error) {
        // Gone since the listing is fine; anything else (a path past PATH_MAX, say) is a place the sweep cannot check.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw uncheckable(root, path, error);
      }
    }
  }
  return { removedLinks, clearedPrivilegeBits };
}

/** Checks one entry; true when it is a folder to descend into. */
async function sweepEntry(root: string, path: string, report: { removedLinks: string[]; clearedPrivilegeBits: string[] }): Promise<boolean> {
  const stat = await lstat(path, { bigint: false });
  if (stat.isSymbolicLink()) {
    if (!(await linkStaysInside(root, path))) {
      await unlink(path);
      report.removedLinks.push(relative(root, path));
    }
    return false;
  }
  if ((stat.mode & privilegeBits) !== 0) {
    await clearPrivilegeBits(path, stat.isFile());
    report.clearedPrivilegeBits.push(relative(root, path));
  }
  return stat.isDirectory();
}

/** A folder a same-user job made unreadable (chmod 000) is opened up again: the sweep must see inside. */
async function listFolder(folder: string, root: string): Promise<string[]> {
  try {
    return await readdir(folder);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw uncheckable(root, folder, error);
    await chmod(folder, 0o700);
    return readdir(folder).catch((again: unknown) => {
      throw uncheckable(root, folder, again);
    });
  }
}

/** The folder is refused rather than left partly unchecked: what cannot be inspected may be a planted link. */
function uncheckable(root: string, path: string, error: unknown): KeelError {
  const code = (error as NodeJS.ErrnoException).code ?? 'an error';
  return new KeelError(
    'sandbox-violation',
    `The write folder ${root} holds an entry the host cannot inspect (${code} at a path ${path.length} characters long), so it cannot be checked for planted links or setuid files; it is refused. Empty or remove the folder before using it again.`,
    { cause: error, details: { root, code } },
  );
}

async function linkStaysInside(root: string, path: string): Promise<boolean> {
  if (isAbsolute(await readlink(path))) return false;
  try {
    const target = await realpath(path);
    return target === root || target.startsWith(root + sep);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENAMETOOLONG') throw error;
    // Dangling, or a loop: it may point outside once something appears at its target.
    return false;
  }
}

/**
 * Clears the bits through a descriptor opened without following a link, so that a name swapped for a link after the
 * lstat cannot make the host change some other file. Directories and files the host cannot open are changed by
 * name, which is safe because no job of this process runs in the folder during the sweep.
 */
async function clearPrivilegeBits(path: string, isFile: boolean): Promise<void> {
  if (isFile) {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
    if (handle !== undefined) {
      try {
        const stat = await handle.stat();
        await handle.chmod(stat.mode & 0o7777 & ~privilegeBits);
        return;
      } finally {
        await handle.close();
      }
    }
  }
  const stat = await lstat(path);
  if (stat.isSymbolicLink()) return;
  await chmod(path, stat.mode & 0o7777 & ~privilegeBits);
}

function tooLarge(root: string): KeelError {
  return new KeelError(
    'sandbox-limit',
    `The write folder "${root}" holds more than ${maximumSweptEntries} entries; the host checks every entry for escaping links and setuid bits around each job, and will not use a folder it cannot check. Clean it up or use a fresh one.`,
    { details: { writePath: root, limit: 'entries', value: maximumSweptEntries } },
  );
}
