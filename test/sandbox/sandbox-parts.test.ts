import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bubblewrapArguments } from '../../src/sandbox/bubblewrap-arguments.ts';
import { permissionFlag } from '../../src/sandbox/node-permission.ts';
import { OutputCollector } from '../../src/sandbox/output-collector.ts';
import { writeJobFiles } from '../../src/sandbox/work-folder.ts';
import { expectKeelError } from './sandbox-test-kit.ts';

const folders: string[] = [];
function temporaryFolder(): string {
  const folder = mkdtempSync(join(tmpdir(), 'keel-sandbox-parts-'));
  folders.push(folder);
  return folder;
}
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe('permissionFlag', () => {
  it('uses the spelling each Node version accepts', () => {
    expect(permissionFlag({ major: 18, minor: 20 })).toBeUndefined();
    expect(permissionFlag({ major: 20, minor: 19 })).toBe('--experimental-permission');
    expect(permissionFlag({ major: 22, minor: 12 })).toBe('--experimental-permission');
    expect(permissionFlag({ major: 22, minor: 13 })).toBe('--permission');
    expect(permissionFlag({ major: 23, minor: 4 })).toBe('--experimental-permission');
    expect(permissionFlag({ major: 24, minor: 0 })).toBe('--permission');
  });
});

describe('writeJobFiles', () => {
  it('writes nested files inside the folder', async () => {
    const folder = temporaryFolder();
    writeJobFiles(folder, { 'a/b.txt': 'nested' });
    expect(readFileSync(join(folder, 'a/b.txt'), 'utf8')).toBe('nested');
  });

  it('refuses to follow a symbolic link an earlier job planted, so the host never writes through it', async () => {
    const folder = temporaryFolder();
    const target = join(temporaryFolder(), 'host-file.txt');
    writeFileSync(target, 'original');
    symlinkSync(target, join(folder, 'planted.txt'));
    await expectKeelError(Promise.resolve().then(() => writeJobFiles(folder, { 'planted.txt': 'overwritten' })), 'sandbox-violation');
    expect(readFileSync(target, 'utf8')).toBe('original');
  });

  it('refuses absolute and parent-relative names', async () => {
    const folder = temporaryFolder();
    await expectKeelError(Promise.resolve().then(() => writeJobFiles(folder, { '/etc/x': '' })), 'invalid-argument');
    await expectKeelError(Promise.resolve().then(() => writeJobFiles(folder, { 'a/../../x': '' })), 'invalid-argument');
  });
});

describe('bubblewrapArguments', () => {
  it('binds only selected /etc files, never the whole /etc or /etc/shadow, and the work folder read-write at /work', () => {
    const args = bubblewrapArguments({ workFolder: '/tmp/work', readPaths: ['/data'] });
    const binds = args.flatMap((arg, index) => (arg.includes('bind') ? [`${arg} ${args[index + 1]} ${args[index + 2]}`] : []));
    expect(binds).not.toContain('--ro-bind /etc /etc');
    expect(binds.some((bind) => bind.includes('shadow'))).toBe(false);
    expect(binds).toContain('--bind /tmp/work /work');
    expect(binds).toContain('--ro-bind /data /data');
    expect(args).toEqual(expect.arrayContaining(['--unshare-all', '--die-with-parent', '--new-session', '--clearenv']));
  });
});

describe('OutputCollector', () => {
  it('keeps the first bytes, counts the rest, and keeps the latest bytes for diagnosis', () => {
    const collector = new OutputCollector(5);
    collector.add('hello world');
    collector.add(' and more: FATAL');
    expect(collector.text()).toBe('hello\n[output cut: 22 more bytes over the limit of 5 bytes (outputBytes)]');
    expect(collector.tail().endsWith('FATAL')).toBe(true);
  });

  it('does not show half a character where the cut falls inside one', () => {
    const collector = new OutputCollector(4);
    collector.add('abcé');
    expect(collector.text().startsWith('abc\n')).toBe(true);
  });
});
