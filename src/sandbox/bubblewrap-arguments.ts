import { lstatSync, readlinkSync } from 'node:fs';

/** Where the job's private work folder appears inside the sandbox. */
export const sandboxWorkFolder = '/work';
/** The uid and gid the job runs as inside: `nobody`, with no capabilities. */
const sandboxUserId = '65534';
/** The descriptor the seccomp program arrives on (see `superviseProcess`'s `descriptorFourData`). */
export const seccompDescriptor = '4';

/**
 * The few files of /etc that programs need to start and to name users; the rest of the host's /etc (shadow,
 * credentials, ssh and TLS keys, service configuration) is simply not there.
 */
const etcFiles = [
  '/etc/alternatives',
  '/etc/group',
  '/etc/host.conf',
  '/etc/hosts',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/nsswitch.conf',
  '/etc/passwd',
];

/** Top-level folders that hold programs and libraries: bound read-only, or recreated as links on merged-/usr systems. */
const systemRoots = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

export interface BubblewrapLayout {
  /** Host folder bound read-write at /work. */
  readonly workFolder: string;
  /** Host paths bound read-only at the same path inside. */
  readonly readPaths: readonly string[];
  /** Further read-only binds (the Node binary and the job program for JavaScript jobs). */
  readonly readOnlyBinds?: readonly { readonly source: string; readonly target: string }[];
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The bwrap arguments before the command: every namespace unshared (so no network: the sandbox has only its own
 * loopback), a new session (no terminal injection through TIOCSTI), death with the parent, an unprivileged user
 * with every capability dropped, no nested user namespaces, a seccomp filter read from fd 4, read-only system folders, a private /tmp, a minimal /etc, /proc and /dev of its
 * own, a cleared environment, and the work folder as the only writable host folder.
 */
export function bubblewrapArguments(layout: BubblewrapLayout): string[] {
  const args = [
    '--unshare-all',
    '--unshare-user',
    '--uid', sandboxUserId,
    '--gid', sandboxUserId,
    '--cap-drop', 'ALL',
    // No user namespace inside (so no nested sandbox to gain capabilities in), and the system-call filter.
    '--disable-userns',
    '--seccomp', seccompDescriptor,
    '--die-with-parent',
    '--new-session',
    '--hostname', 'sandbox',
    '--ro-bind', '/usr', '/usr',
  ];
  for (const root of systemRoots) args.push(...systemRootArguments(root));
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', '/etc');
  for (const file of etcFiles) args.push('--ro-bind-try', file, file);
  args.push('--bind', layout.workFolder, sandboxWorkFolder);
  for (const path of layout.readPaths) args.push('--ro-bind', path, path);
  for (const bind of layout.readOnlyBinds ?? []) args.push('--ro-bind', bind.source, bind.target);
  // Last, so that a read path under /etc could still get its mount point.
  args.push('--remount-ro', '/etc');
  args.push('--clearenv', '--setenv', 'PATH', '/usr/local/bin:/usr/bin:/bin', '--setenv', 'HOME', sandboxWorkFolder, '--setenv', 'LANG', 'C.UTF-8');
  for (const [name, value] of Object.entries(layout.environment ?? {})) args.push('--setenv', name, value);
  args.push('--chdir', sandboxWorkFolder);
  return args;
}

function systemRootArguments(root: string): string[] {
  const stat = lstatSync(root, { throwIfNoEntry: false });
  if (stat === undefined) return [];
  if (stat.isSymbolicLink()) return ['--symlink', readlinkSync(root), root];
  return stat.isDirectory() ? ['--ro-bind', root, root] : [];
}
