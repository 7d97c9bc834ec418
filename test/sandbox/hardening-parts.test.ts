import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createBubblewrapRunner,
  createInProcessRunner,
  createProcessRunner,
  createWorkerRunner,
  defaultMaxProcesses,
  seccompProgram,
  sweepWriteFolder,
  withDefaultLimits,
} from '../../src/sandbox/index.ts';
import { bubblewrapArguments } from '../../src/sandbox/bubblewrap-arguments.ts';

const folders: string[] = [];
function temporaryFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'keel-hardening-'));
  folders.push(folder);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

interface Instruction {
  readonly code: number;
  readonly ifTrue: number;
  readonly ifFalse: number;
  readonly k: number;
}

function decode(program: Buffer): Instruction[] {
  return Array.from({ length: program.length / 8 }, (_, index) => ({
    code: program.readUInt16LE(index * 8),
    ifTrue: program.readUInt8(index * 8 + 2),
    ifFalse: program.readUInt8(index * 8 + 3),
    k: program.readUInt32LE(index * 8 + 4),
  }));
}

/** Runs the classic BPF program over one seccomp_data, as the kernel would: the action it returns. */
function evaluate(program: Buffer, data: { readonly nr: number; readonly arch: number; readonly firstArgument?: number }): number {
  const instructions = decode(program);
  let accumulator = 0;
  for (let pc = 0; pc < instructions.length; pc += 1) {
    const { code, ifTrue, ifFalse, k } = instructions[pc] as Instruction;
    if (code === 0x20) accumulator = k === 0 ? data.nr : k === 4 ? data.arch : k === 16 ? (data.firstArgument ?? 0) : Number.NaN;
    else if (code === 0x06) return k;
    else if (code === 0x15) pc += accumulator === k ? ifTrue : ifFalse;
    else if (code === 0x35) pc += accumulator >= k ? ifTrue : ifFalse;
    else if (code === 0x45) pc += (accumulator & k) !== 0 ? ifTrue : ifFalse;
    else throw new Error(`unknown instruction ${code}`);
  }
  throw new Error('the program fell off its end');
}

const allow = 0x7fff0000;
const eperm = 0x00050001;
const enosys = 0x00050026;
const killProcess = 0x80000000;
const x64 = 0xc000003e;

describe('the seccomp program', () => {
  const program = seccompProgram('x64');

  it('allows ordinary calls and plain clone (threads, fork)', () => {
    expect(evaluate(program, { nr: 0, arch: x64 })).toBe(allow); // read
    expect(evaluate(program, { nr: 56, arch: x64, firstArgument: 0x003d0f00 })).toBe(allow); // clone for a thread
  });

  it('denies ptrace, mount, unshare, setns, bpf, keyctl, userfaultfd and clone with namespace flags with EPERM', () => {
    for (const nr of [101, 165, 272, 308, 321, 250, 323]) expect(evaluate(program, { nr, arch: x64 }), String(nr)).toBe(eperm);
    expect(evaluate(program, { nr: 56, arch: x64, firstArgument: 0x10000000 })).toBe(eperm); // CLONE_NEWUSER
  });

  it('answers clone3 and io_uring with ENOSYS so that glibc and libuv fall back', () => {
    for (const nr of [435, 425, 426, 427]) expect(evaluate(program, { nr, arch: x64 })).toBe(enosys);
  });

  it('kills on another ABI (i386) or an x32 call, which would bypass the numbers', () => {
    expect(evaluate(program, { nr: 26, arch: 0x40000003 })).toBe(killProcess);
    expect(evaluate(program, { nr: 0x40000000 + 101, arch: x64 })).toBe(killProcess);
  });

  it('exists for arm64 with its own numbers, and refuses an unknown architecture', () => {
    expect(evaluate(seccompProgram('arm64'), { nr: 117, arch: 0xc00000b7 })).toBe(eperm); // ptrace on arm64
    expect(evaluate(seccompProgram('arm64'), { nr: 101, arch: 0xc00000b7 })).toBe(allow); // 101 is nanosleep there
    expect(() => seccompProgram('ia32')).toThrow(/no seccomp filter/i);
  });

  it('is handed to bwrap with --disable-userns', () => {
    const args = bubblewrapArguments({ workFolder: '/tmp/x', readPaths: [] });
    expect(args).toContain('--disable-userns');
    expect(args.join(' ')).toContain('--seccomp 4');
  });
});

describe('default limits', () => {
  it('fill in memory, CPU time and output wherever the runner can enforce them', () => {
    const given = { timeoutMs: 7_000 };
    for (const runner of [createBubblewrapRunner(), createProcessRunner(), createWorkerRunner()]) {
      expect(withDefaultLimits(runner, given), runner.name).toEqual({ timeoutMs: 7_000, memoryMb: 512, cpuTimeMs: 7_000, outputBytes: 1024 * 1024 });
    }
    // The in-process runner can hold nothing but the wall clock and the output: it gets no limit it would ignore.
    expect(withDefaultLimits(createInProcessRunner(), given)).toEqual({ timeoutMs: 7_000, outputBytes: 1024 * 1024 });
    expect(withDefaultLimits(createWorkerRunner(), { timeoutMs: 1_000, memoryMb: 32 }).memoryMb).toBe(32);
    expect(defaultMaxProcesses).toBeGreaterThan(0);
  });
});

const bubblewrap = createBubblewrapRunner();
describe.skipIf(!(await bubblewrap.available()))('default limits inside bubblewrap (skipped when bubblewrap is unavailable)', () => {
  it('a command given only a timeout runs with RLIMIT_DATA, RLIMIT_CPU and RLIMIT_NPROC set', async () => {
    const result = await bubblewrap.run({ kind: 'command', argv: ['cat', '/proc/self/limits'] }, { timeoutMs: 9_000 });
    expect(result.stdout).toMatch(/Max cpu time\s+9\s+10\s+seconds/);
    expect(result.stdout).toMatch(new RegExp(`Max data size\\s+${512 * 1024 * 1024}\\s+${512 * 1024 * 1024}`));
    expect(result.stdout).toMatch(new RegExp(`Max processes\\s+${defaultMaxProcesses}\\s+${defaultMaxProcesses}`));
  });
});

describe('sweepWriteFolder', () => {
  it('removes absolute, escaping and dangling links, keeps links that stay inside, clears setuid and setgid bits', async () => {
    const folder = temporaryFolder();
    mkdirSync(join(folder, 'sub'));
    writeFileSync(join(folder, 'sub', 'file.txt'), 'x');
    writeFileSync(join(folder, 'tool'), '#!/bin/sh\n');
    chmodSync(join(folder, 'tool'), 0o6755);
    symlinkSync('/etc/passwd', join(folder, 'absolute'));
    symlinkSync('../../..', join(folder, 'sub', 'climbing'));
    symlinkSync('missing-target', join(folder, 'dangling'));
    symlinkSync('sub/file.txt', join(folder, 'inside'));
    // Lexically inside, really outside: d is the folder itself, so d/d/../.. climbs out.
    symlinkSync('.', join(folder, 'd'));
    symlinkSync('d/d/d/../..', join(folder, 'tricky'));
    const report = await sweepWriteFolder(folder);
    expect([...report.removedLinks].sort()).toEqual(['absolute', 'dangling', join('sub', 'climbing'), 'tricky'].sort());
    expect(report.clearedPrivilegeBits).toEqual(['tool']);
    expect(lstatSync(join(folder, 'tool')).mode & 0o7777).toBe(0o755);
    expect(lstatSync(join(folder, 'inside')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(folder, 'd')).isSymbolicLink()).toBe(true);
  });

  it('refuses a folder with entries deeper than the host can name, instead of skipping them', async () => {
    const folder = temporaryFolder();
    const start = process.cwd();
    // A job built this inside its sandbox, where the folder's own path is short: past PATH_MAX from the host's side.
    try {
      process.chdir(folder);
      for (let level = 0; level < 18; level += 1) {
        mkdirSync('x'.repeat(250));
        process.chdir('x'.repeat(250));
      }
      symlinkSync('/etc/shadow', 'planted');
    } finally {
      process.chdir(start);
    }
    try {
      await expect(sweepWriteFolder(folder)).rejects.toMatchObject({ code: 'sandbox-violation', message: expect.stringMatching(/cannot inspect .*it is refused/) });
    } finally {
      // GNU rm walks with relative descriptors; a path-based removal would fail the same way the sweep did.
      spawnSync('rm', ['-rf', folder]);
    }
  });
});
