import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createApiKeyStore } from '../../src/server/api-keys.ts';
import { openServerDatabase } from '../../src/server/server-database.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-serve-'));
const running: ChildProcess[] = [];

afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

/** Starts `keel serve` on a free port and resolves once it printed its banner. */
function startServe(database: string): Promise<{ child: ChildProcess; banner: string; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', 'serve', '--db', database, '--port', '0', '--agents', 'test/server/fixtures/agents'], { cwd: process.cwd(), env: { ...process.env, KEEL_MODEL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`keel serve printed no banner in time:\n${output}`)), 60_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const url = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
      if (url !== undefined && /(First admin key|Admin keys exist)[^\n]*\n.*\n?/.test(output) && output.includes('\n', output.search(/First admin key|Admin keys exist/))) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve({ child, banner: output, url });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`keel serve exited with ${code}:\n${output}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

describe('keel serve', () => {
  it('prints the URL and a first admin key once, serves the API with it, and stops on Ctrl-C', async () => {
    // A database that already has an admin key, as a second start finds it; both servers start side by side.
    const used = join(scratch, 'used.db');
    const connection = openServerDatabase(used);
    const existing = (await createApiKeyStore(connection).create({ name: 'ops', tenant: 'default', roles: ['admin'], createdBy: null })).key;
    connection.close();
    const [first, second] = await Promise.all([startServe(join(scratch, 'fresh.db')), startServe(used)]);
    const key = /^\s+(keel_key_\S+)$/m.exec(first.banner)?.[1];
    expect(key).toBeDefined();
    expect(first.banner).toContain('agents   support');
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${first.url}/v1/agents`)).status).toBe(401);
    const agents = await fetch(`${first.url}/v1/agents`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await agents.json()) as { agents: { name: string }[] }).agents.map((agent) => agent.name)).toEqual(['support']);
    expect(await stop(first.child)).toBe(130);

    expect(second.banner).not.toMatch(/keel_key_/);
    expect(second.banner).toMatch(/Admin keys exist already; create another with `.*keys create --tenant default --role admin/);
    const stillValid = await fetch(`${second.url}/v1/me`, { headers: { authorization: `Bearer ${existing}` } });
    expect(stillValid.status).toBe(200);
    expect(await stop(second.child)).toBe(130);
  }, 120_000);
});
