import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import refundAgent from '../fixtures/agents/refund-agent.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { keel, root } from './run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-read-only-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// File modes do not bind root (CI runs as root), so the read-only checks run the CLI as the unprivileged `nobody`.
const runningAsRoot = process.getuid?.() === 0;
const reader = runningAsRoot ? { uid: 65534, gid: 65534 } : {};

describe('read-only commands never create or change a database', () => {
  const shared = join(scratch, 'shared');
  const database = join(shared, 'keel.db');
  let sessionId = '';

  beforeAll(async () => {
    mkdirSync(shared);
    const keelInstance = createKeel({ database, model: `scripted:${join(root, 'test/fixtures/agents/refund-model.json')}`, env: {} });
    try {
      const result = await keelInstance.run(refundAgent, { agentModule: join(root, 'test/fixtures/agents/refund-agent.ts') }).result;
      expect(result.status).toBe('awaiting-approval');
      sessionId = result.sessionId;
    } finally {
      await keelInstance.close();
    }
    // The owner made the file read-only; the folder stays writable by the owner only.
    chmodSync(database, 0o444);
    chmodSync(scratch, 0o755);
    if (runningAsRoot) chownSync(shared, 65534, 65534);
  }, 60_000);

  it('a mistyped --db is an error naming the path (exit 1), and creates no folder or file', () => {
    const missing = join(scratch, 'typo', 'nested', 'keel.db');
    const sessions = keel(['sessions', '--db', missing]);
    expect(sessions.status).toBe(1);
    expect(sessions.stderr).toContain(`No Keel database at ${missing}`);
    // --db before the command, and the audit group: the global flag is found, and nothing is created either.
    const audit = keel(['--db', missing, 'audit', 'verify']);
    expect(audit.status).toBe(1);
    expect(audit.stderr).toContain(`No Keel database at ${missing}`);
    expect(existsSync(join(scratch, 'typo'))).toBe(false);
  });

  it('a database file with mode 0444 can be listed and traced, and is left as it was', () => {
    const before = { size: statSync(database).size, mtime: statSync(database).mtimeMs, files: readdirSync(shared).sort() };
    const sessions = keel(['sessions', '--json', '--db', database], reader);
    expect(sessions.status, sessions.stderr).toBe(0);
    expect(JSON.parse(sessions.stdout)).toEqual([expect.objectContaining({ sessionId, status: 'waiting-approval' })]);
    // --db after the command and its argument works as well as before.
    const trace = keel(['trace', sessionId, '--db', database], reader);
    expect(trace.status, trace.stderr).toBe(0);
    expect(trace.stdout).toContain('status=waiting-approval');
    expect({ size: statSync(database).size, mtime: statSync(database).mtimeMs, files: readdirSync(shared).sort() }).toEqual(before);
  });
});
