import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** System folders first, then the host's PATH: a job never chooses which program the runner starts. */
const systemFolders = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];

/** The absolute path of an executable program, or undefined when none is installed. */
export function findExecutable(name: string, searchPath: string = process.env.PATH ?? ''): string | undefined {
  const folders = [...systemFolders, ...searchPath.split(delimiter).filter((folder) => folder.startsWith('/'))];
  for (const folder of folders) {
    const candidate = join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}

const systemTools = new Map<string, string | null>();

/** `findExecutable` for tools Keel wraps jobs in (prlimit, setpriv), looked up once per process. */
export function findSystemTool(name: string): string | undefined {
  if (!systemTools.has(name)) systemTools.set(name, findExecutable(name) ?? null);
  return systemTools.get(name) ?? undefined;
}
