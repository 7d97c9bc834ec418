import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKeel, createMemoryBlobStore, createMemoryJournal, defineAgent, isKeelError } from '../../src/index.ts';
import type { KeelOptions } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createMemoryAuditLog, createMemoryIdempotencyStore } from '../../src/store/index.ts';
import { createToolPipeline } from '../../src/tools/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-root-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function rejected(options: KeelOptions): string {
  try {
    createKeel(options);
  } catch (error) {
    expect(isKeelError(error, 'invalid-config')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('createKeel accepted conflicting options');
}

function answer(text: string) {
  return createScriptedModel([{ role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text }], usage: { input_tokens: 3, output_tokens: 2 } }]);
}

describe('createKeel rejects options that cannot take effect together', () => {
  it('toolPipeline with each option of the pipeline it replaces', () => {
    const toolPipeline = createToolPipeline();
    expect(rejected({ database: ':memory:', toolPipeline, policy: {} })).toMatch(/toolPipeline replaces the tool pipeline that policy configures/);
    expect(rejected({ database: ':memory:', toolPipeline, rateLimits: { perAgent: { capacity: 1, refillPerSecond: 1 } } })).toMatch(/that rateLimits configures/);
    expect(rejected({ database: ':memory:', toolPipeline, redaction: false })).toMatch(/that redaction configures/);
    expect(rejected({ database: ':memory:', toolPipeline, outputDetectors: [] })).toMatch(/that outputDetectors configures/);
    expect(rejected({ database: ':memory:', toolPipeline, idempotency: createMemoryIdempotencyStore(), policy: {} })).toMatch(/that policy, idempotency configure/);
  });

  it('a journal without blobs, blobs without a journal, and either with a database', () => {
    expect(rejected({ journal: createMemoryJournal() })).toMatch(/journal was given without blobs/);
    expect(rejected({ blobs: createMemoryBlobStore() })).toMatch(/blobs was given without journal/);
    expect(rejected({ journal: createMemoryJournal(), blobs: createMemoryBlobStore(), database: join(scratch, 'x.db') })).toMatch(/database and journal\/blobs were both given/);
  });

  it('a lease ttl for a journal given without its lease store, and out-of-range numbers', () => {
    expect(rejected({ journal: createMemoryJournal(), blobs: createMemoryBlobStore(), leaseTtlMs: 1000 })).toMatch(/leaseTtlMs was given for a journal given directly without leases/);
    expect(rejected({ database: ':memory:', leaseTtlMs: 5 })).toMatch(/leaseTtlMs must be an integer of at least 100/);
    expect(rejected({ database: ':memory:', modelRetries: -1 })).toMatch(/modelRetries must be an integer of at least 0/);
    expect(rejected({ database: ':memory:', models: { 'openai:x': answer('x') } })).toMatch(/cannot name a model/);
  });

  it('keeps an audit log and idempotency store given with a SQLite database instead of replacing them', async () => {
    const auditLog = createMemoryAuditLog();
    const idempotency = createMemoryIdempotencyStore();
    const keel = createKeel({ database: join(scratch, 'kept.db'), auditLog, idempotency, model: answer('ok') });
    expect(keel.audit).toBe(auditLog);
    await keel.close();
  });
});

describe('the model a session ran with', () => {
  it('is recorded by its registered name, and a later process resumes with the same model', async () => {
    const database = join(scratch, 'models.db');
    const agent = defineAgent({ name: 'answerer', instructions: 'x', tools: [] });
    const first = createKeel({ database, models: { house: answer('first') } });
    const result = await first.run(agent, { task: 'say it', model: 'house' }).result;
    await first.close();
    expect(result.status).toBe('completed');
    const events = createKeel({ database });
    const [start] = await events.events(result.sessionId);
    await events.close();
    expect(start).toMatchObject({ type: 'session-start', model: { spec: 'house' } });
  });

  it('refuses to resume a session that ran with an unregistered model object instead of guessing from the environment', async () => {
    const database = join(scratch, 'unregistered.db');
    const agent = defineAgent({ name: 'answerer', instructions: 'x', tools: [] });
    const first = createKeel({ database, model: answer('done') });
    const result = await first.run(agent, 'say it').result;
    await first.close();
    const later = createKeel({ database, env: { ANTHROPIC_API_KEY: 'sk-ant-not-used' } });
    const error = await later.resume(agent, result.sessionId).catch((caught: unknown) => caught);
    await later.close();
    expect(isKeelError(error, 'invalid-argument')).toBe(true);
    expect((error as Error).message).toMatch(/ran with a model object .* that was not registered by name/);
  });
});
