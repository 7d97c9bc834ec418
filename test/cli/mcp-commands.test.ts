import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitationInbox } from '../../src/tools/mcp/index.ts';
import { startOAuthFixture, type OAuthFixture } from '../mcp/fixtures/oauth-fixture.ts';
import { keel, startKeel } from './run-cli.ts';

describe('keel mcp', () => {
  let scratch: string;
  let fixture: OAuthFixture;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'keel-cli-mcp-'));
    fixture = await startOAuthFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('login prints the authorization URL, takes the redirect on 127.0.0.1 and saves the tokens 0600', async () => {
    const tokens = join(scratch, 'tokens');
    const child = startKeel(['mcp', 'login', 'vault', '--url', fixture.mcpUrl, '--token-dir', tokens, '--timeout', '30']);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const found = /^ {2}(http\S+)$/m.exec(stdout)?.[1];
        if (found !== undefined) resolve(found);
      });
      child.on('close', () => reject(new Error(`login exited before printing a URL: ${stdout}${stderr}`)));
    });
    expect(url.startsWith(`${fixture.issuer}/authorize?`)).toBe(true);
    // The person's browser follows the authorization server's redirect to the CLI's listener.
    await fetch(url);
    expect(await exited).toBe(0);
    expect(stdout).toContain('Authorized (scope: mcp:tools)');
    expect(statSync(join(tokens, 'vault.json')).mode & 0o777).toBe(0o600);
    const logout = keel(['mcp', 'logout', 'vault', '--url', fixture.mcpUrl, '--token-dir', tokens]);
    expect(logout.status).toBe(0);
    expect(() => statSync(join(tokens, 'vault.json'))).toThrow();
  });

  it('requests lists a pending question with its form; answer checks the values against it', () => {
    const directory = join(scratch, 'requests');
    const inbox = new ElicitationInbox(directory);
    const item = inbox.add({
      key: 'k1',
      server: 'shop',
      message: 'How should order 7 ship?\u001b[2J',
      requestedSchema: { type: 'object', properties: { speed: { type: 'string', enum: ['standard', 'express'] }, boxes: { type: 'integer', minimum: 1 } }, required: ['speed'] },
      sessionId: 'ses_1',
      tool: 'ship',
    });
    const listed = keel(['mcp', 'requests', '--dir', directory]);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toContain(`${item.id}  pending  server shop, tool ship, session ses_1`);
    expect(listed.stdout).toContain('How should order 7 ship? [2J');
    expect(listed.stdout).toContain('speed (string, required) one of "standard", "express"');

    const wrong = keel(['mcp', 'answer', item.id, '--dir', directory, '--set', 'speed=teleport']);
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('speed must be one of "standard", "express"');
    expect(inbox.get(item.id)?.status).toBe('pending');

    const right = keel(['mcp', 'answer', item.id, '--dir', directory, '--set', 'speed=express', '--set', 'boxes=2', '--by', 'ada']);
    expect(right.status).toBe(0);
    expect(inbox.get(item.id)).toMatchObject({ status: 'answered', answeredBy: 'ada', answer: { action: 'accept', content: { speed: 'express', boxes: 2 } } });
    expect(keel(['mcp', 'requests', '--dir', directory]).stdout).toContain('No pending MCP input requests');
  });
});
