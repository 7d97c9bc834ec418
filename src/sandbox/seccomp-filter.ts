import { arch } from 'node:process';

// A seccomp filter for bubblewrap's `--seccomp FD`: a classic BPF program, assembled here so that no package or
// compiler is needed. bwrap installs it right before it starts the job, after no_new_privs, so nothing inside can
// remove it. It denies the system calls that reach kernel code an unprivileged job has no business with: other
// processes' memory (ptrace, process_vm_*), mounts and namespaces (which --disable-userns also stops), the kernel
// keyring, eBPF, perf, userfaultfd (a favourite of kernel exploits), module and kexec loading. io_uring and clone3
// answer ENOSYS, not EPERM: libuv and glibc then fall back to the plain system calls, whose arguments this filter
// can see (clone3 passes its flags in memory, which BPF cannot read).

/** AUDIT_ARCH_* values from <linux/audit.h>: the filter refuses every other ABI (i386, x32) outright. */
const auditArchitectures = { x64: 0xc000003e, arm64: 0xc00000b7 } as const;

type DeniedSyscall =
  | 'ptrace' | 'process_vm_readv' | 'process_vm_writev' | 'mount' | 'umount2' | 'pivot_root' | 'unshare' | 'setns'
  | 'open_tree' | 'move_mount' | 'fsopen' | 'fsconfig' | 'fsmount' | 'fspick' | 'mount_setattr' | 'keyctl' | 'add_key'
  | 'request_key' | 'bpf' | 'perf_event_open' | 'userfaultfd' | 'kexec_load' | 'kexec_file_load' | 'init_module'
  | 'finit_module' | 'delete_module' | 'open_by_handle_at' | 'name_to_handle_at' | 'acct' | 'swapon' | 'swapoff'
  | 'reboot' | 'syslog' | 'quotactl' | 'clone' | 'clone3' | 'io_uring_setup' | 'io_uring_enter' | 'io_uring_register';

/** System call numbers from the kernel's syscall tables (arch/x86/entry/syscalls/syscall_64.tbl, asm-generic/unistd.h). */
const syscallNumbers: Readonly<Record<keyof typeof auditArchitectures, Readonly<Record<DeniedSyscall, number>>>> = {
  x64: {
    ptrace: 101, process_vm_readv: 310, process_vm_writev: 311, mount: 165, umount2: 166, pivot_root: 155, unshare: 272,
    setns: 308, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    keyctl: 250, add_key: 248, request_key: 249, bpf: 321, perf_event_open: 298, userfaultfd: 323, kexec_load: 246,
    kexec_file_load: 320, init_module: 175, finit_module: 313, delete_module: 176, open_by_handle_at: 304,
    name_to_handle_at: 303, acct: 163, swapon: 167, swapoff: 168, reboot: 169, syslog: 103, quotactl: 179, clone: 56,
    clone3: 435, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
  },
  arm64: {
    ptrace: 117, process_vm_readv: 270, process_vm_writev: 271, mount: 40, umount2: 39, pivot_root: 41, unshare: 97,
    setns: 268, open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433, mount_setattr: 442,
    keyctl: 219, add_key: 217, request_key: 218, bpf: 280, perf_event_open: 241, userfaultfd: 282, kexec_load: 104,
    kexec_file_load: 294, init_module: 105, finit_module: 273, delete_module: 106, open_by_handle_at: 265,
    name_to_handle_at: 264, acct: 89, swapon: 224, swapoff: 225, reboot: 142, syslog: 116, quotactl: 60, clone: 220,
    clone3: 435, io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
  },
};

/** Calls that fail with ENOSYS so that callers fall back; clone is checked by its flags instead. */
const fallBackCalls: readonly DeniedSyscall[] = ['clone3', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'];
/** The system calls the filter names in its report. */
export const deniedSyscalls: readonly DeniedSyscall[] = Object.keys(syscallNumbers.x64).filter((name) => name !== 'clone') as DeniedSyscall[];

/** CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET. */
const cloneNamespaceFlags = 0x7e020000;
/** x32 system calls carry this bit on x86-64; they would bypass the x64 numbers above. */
const x32SyscallBit = 0x40000000;
const errnoEPERM = 1;
const errnoENOSYS = 38;

const returnAllow = 0x7fff0000;
const returnErrno = 0x00050000;
const returnKillProcess = 0x80000000;
/** Offsets in struct seccomp_data: nr, arch, then args[0] (its low 32 bits first: both supported ABIs are little-endian). */
const offsetNumber = 0;
const offsetArchitecture = 4;
const offsetFirstArgument = 16;

const loadWord = 0x20; // BPF_LD | BPF_W | BPF_ABS
const jumpEqual = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const jumpGreaterOrEqual = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const jumpAnyBitSet = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const returnConstant = 0x06; // BPF_RET | BPF_K

type Label = 'allow' | 'deny' | 'fallback' | 'kill' | 'clone';
type Instruction =
  | { readonly code: number; readonly k: number }
  | { readonly code: number; readonly k: number; readonly ifTrue: Label | 'next'; readonly ifFalse: Label | 'next' };

/** True where the filter is known: Linux on x86-64 and arm64. */
export function seccompSupported(): boolean {
  return process.platform === 'linux' && (arch === 'x64' || arch === 'arm64');
}

/** The filter as bytes of `struct sock_filter`, as `--seccomp` reads them; throws on an architecture it does not know. */
export function seccompProgram(architecture: string = arch): Buffer {
  if (architecture !== 'x64' && architecture !== 'arm64') throw new Error(`No seccomp filter is defined for the ${architecture} architecture.`);
  const numbers = syscallNumbers[architecture];
  const body: Instruction[] = [
    { code: loadWord, k: offsetArchitecture },
    { code: jumpEqual, k: auditArchitectures[architecture], ifTrue: 'next', ifFalse: 'kill' },
    { code: loadWord, k: offsetNumber },
  ];
  if (architecture === 'x64') body.push({ code: jumpGreaterOrEqual, k: x32SyscallBit, ifTrue: 'kill', ifFalse: 'next' });
  body.push({ code: jumpEqual, k: numbers.clone, ifTrue: 'clone', ifFalse: 'next' });
  for (const name of deniedSyscalls) {
    body.push({ code: jumpEqual, k: numbers[name], ifTrue: fallBackCalls.includes(name) ? 'fallback' : 'deny', ifFalse: 'next' });
  }
  const targets: Record<Label, Instruction[]> = {
    allow: [{ code: returnConstant, k: returnAllow }],
    clone: [
      { code: loadWord, k: offsetFirstArgument },
      { code: jumpAnyBitSet, k: cloneNamespaceFlags, ifTrue: 'deny', ifFalse: 'next' },
      { code: returnConstant, k: returnAllow },
    ],
    deny: [{ code: returnConstant, k: returnErrno | errnoEPERM }],
    fallback: [{ code: returnConstant, k: returnErrno | errnoENOSYS }],
    kill: [{ code: returnConstant, k: returnKillProcess }],
  };
  return assemble(body, targets);
}

/** Lays the labelled blocks out after the body and turns labels into the forward jump offsets BPF needs. */
function assemble(body: readonly Instruction[], blocks: Readonly<Record<Label, Instruction[]>>): Buffer {
  const program = [...body];
  const positions = new Map<Label, number>();
  for (const label of ['allow', 'clone', 'deny', 'fallback', 'kill'] as const) {
    positions.set(label, program.length);
    program.push(...blocks[label]);
  }
  const bytes = Buffer.alloc(program.length * 8);
  program.forEach((instruction, index) => {
    const offset = (target: Label | 'next'): number => {
      if (target === 'next') return 0;
      const distance = (positions.get(target) ?? 0) - index - 1;
      if (distance < 0 || distance > 255) throw new Error(`seccomp jump from ${index} to ${target} is out of range.`);
      return distance;
    };
    bytes.writeUInt16LE(instruction.code, index * 8);
    bytes.writeUInt8('ifTrue' in instruction ? offset(instruction.ifTrue) : 0, index * 8 + 2);
    bytes.writeUInt8('ifFalse' in instruction ? offset(instruction.ifFalse) : 0, index * 8 + 3);
    bytes.writeUInt32LE(instruction.k >>> 0, index * 8 + 4);
  });
  return bytes;
}
