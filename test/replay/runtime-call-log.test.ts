import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createSqliteCallLog } from '../../src/store/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-call-log-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('createKeel with a call-log policy', () => {
  it('logs token counts always, redacted texts when sampled, and full texts only in the 0600 access-controlled file', async () => {
    const model = createScriptedModel([
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { who: 'ana' } }], usage: { input_tokens: 100, output_tokens: 8 } },
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'Write to ana.lima@example.com.' }], usage: { input_tokens: 130, output_tokens: 9 } },
    ]);
    const lookup = defineTool({ name: 'lookup', description: 'x', input: z.object({ who: z.string() }), risk: 'read', execute: () => 'ana.lima@example.com' });
    const database = join(scratch, 'keel.db');
    const keel = createKeel({ database, model, callLog: { sampleRate: 1 }, redaction: false });
    const result = await keel.run(defineAgent({ name: 'mailer', instructions: 'x', tools: [lookup] }), 'find ana\u2019s e-mail').result;
    await keel.close();
    expect(result.status).toBe('completed');
    expect(statSync(`${database}.calls.db`).mode & 0o777).toBe(0o600);
    const audit = createSqliteCallLog({ path: `${database}.calls.db`, channel: 'audit' });
    const full = await audit.read(result.sessionId);
    await audit.close();
    expect(full).toHaveLength(2);
    expect(JSON.stringify(full)).toContain('ana.lima@example.com');
    const reopened = createKeel({ database, callLog: { sampleRate: 1 } });
    await reopened.close();
    const sampled = createSqliteCallLog({ path: database, channel: 'sampled' });
    const entries = await sampled.read(result.sessionId);
    await sampled.close();
    expect(entries).toHaveLength(2);
    expect(JSON.stringify(entries)).not.toContain('ana.lima@example.com');
    expect(JSON.stringify(entries)).toContain('[REDACTED:email]');
    expect(entries.map((entry) => entry.usage.inputTokens)).toEqual([100, 130]);
    expect(entries.every((entry) => entry.redacted)).toBe(true);
  });
});
