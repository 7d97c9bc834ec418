import { lchownSync, lstatSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { KeelError } from '../errors/index.ts';

/** `nobody`: the host user a job runs as when the host runs as root, so that it holds none of root's rights. */
export const sandboxUserId = 65534;

/**
 * Whether jobs are handed to `nobody`. Under a root host they must be: a job whose files and processes belong to
 * root could leave a setuid-root file behind, signal root's processes, and is exempt from RLIMIT_NPROC. A host that
 * is already unprivileged runs its jobs as itself; bubblewrap's user and pid namespaces then keep them apart.
 */
export function jobsRunAsSandboxUser(): boolean {
  return process.getuid?.() === 0;
}

/** The spawn options that start a process as the sandbox user (libuv also clears the supplementary groups). */
export function sandboxSpawnIdentity(): { readonly uid?: number; readonly gid?: number } {
  return jobsRunAsSandboxUser() ? { uid: sandboxUserId, gid: sandboxUserId } : {};
}

/** Makes a folder or file the host created belong to the sandbox user, without following a link. */
export function giveToSandboxUser(path: string): void {
  if (!jobsRunAsSandboxUser()) return;
  const stat = lstatSync(path);
  if (stat.uid !== sandboxUserId || stat.gid !== sandboxUserId) lchownSync(path, sandboxUserId, sandboxUserId);
}

/**
 * A read path the sandbox user cannot read would fail deep inside bwrap or node with a vague message; this names
 * the path and the fix instead. It reads permission bits as `nobody` would (neither owner nor group unless they are
 * 65534), which is exact for the plain Unix modes Keel's callers use; ACLs are not consulted.
 */
export function assertReadableBySandboxUser(path: string): void {
  if (!jobsRunAsSandboxUser()) return;
  const target = statSync(path);
  const needed = target.isDirectory() ? 0o5 : 0o4;
  if ((permissionsFor(target) & needed) !== needed) throw unreadable(path, path);
  for (let folder = dirname(path); ; folder = dirname(folder)) {
    if ((permissionsFor(statSync(folder)) & 0o1) === 0) throw unreadable(path, folder);
    if (folder === dirname(folder)) return;
  }
}

function permissionsFor(stat: { readonly mode: number; readonly uid: number; readonly gid: number }): number {
  if (stat.uid === sandboxUserId) return (stat.mode >> 6) & 0o7;
  if (stat.gid === sandboxUserId) return (stat.mode >> 3) & 0o7;
  return stat.mode & 0o7;
}

function unreadable(path: string, blocking: string): KeelError {
  return new KeelError(
    'invalid-config',
    `readPaths entry "${path}" is not readable by the sandbox user (uid ${sandboxUserId}, nobody), which jobs run as under a root host: "${blocking}" lacks the permission for others. Make it world-readable (chmod o+rX) or read it through a copy.`,
    { details: { path, blocking } },
  );
}
