import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keel, root } from './run-cli.ts';

describe('keel help, version and usage errors', () => {
  it('keel --help lists every command and documents the exit codes', () => {
    const result = keel(['--help']);
    expect(result.status, result.stderr).toBe(0);
    for (const command of ['run', 'resume', 'approve', 'reject', 'sessions', 'pending', 'trace', 'replay', 'explain', 'diff', 'audit', 'help']) {
      expect(result.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(result.stdout).toContain('Exit codes:');
    expect(result.stdout).toMatch(/^ {2}130 {2}interrupted by Ctrl-C/m);
  });

  it('each command has its own help with only its options, by --help and by keel help <command>', () => {
    const sessions = keel(['sessions', '--help']);
    expect(sessions.status, sessions.stderr).toBe(0);
    expect(sessions.stdout).toMatch(/^Usage: keel sessions \[options\]/);
    expect(sessions.stdout).toContain('--limit <count>');
    expect(sessions.stdout).toContain('--status <status>');
    expect(sessions.stdout).not.toContain('--reason');
    expect(sessions.stdout).toContain('--db <path>');

    const reject = keel(['help', 'reject']);
    expect(reject.status, reject.stderr).toBe(0);
    expect(reject.stdout).toMatch(/^Usage: keel reject \[options\] <session-id> <call-id>/);
    expect(reject.stdout).toContain('--reason <text>');
    expect(reject.stdout).not.toContain('--limit');
  });

  it('--version prints the version of package.json', () => {
    const result = keel(['--version']);
    expect(result.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(result.stdout.trim()).toBe(manifest.version);
  });

  it('an option the command does not have is a usage error (exit 2) that names it and the command help', () => {
    const result = keel(['sessions', '--reason', 'x']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown option '--reason'");
    expect(result.stderr).toContain('keel sessions --help');
  });

  it('a malformed value names the flag and the value, not an internal function', () => {
    const result = keel(['sessions', '--limit', 'abc']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('keel: invalid-argument: --limit must be a positive integer, got "abc".');
  });
});
