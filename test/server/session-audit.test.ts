import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness?.close();
});

interface View {
  id: string;
  status: string;
}

interface Audit {
  entries: { seq: number; sessionId: string }[];
  verification: { ok: boolean; scope: string; checked: number; firstBadSeq?: number; problem?: string; records?: number; head?: unknown };
}

/** A refunder session whose refund `key` approves: it ends with audit records of its own. */
async function refundedSession(key: string): Promise<string> {
  const started = (await harness.request('/v1/sessions', { key, body: { agent: 'refunder', task: 'Refund order 1042.' } })).body as View;
  await eventually(async () => (await harness.request(`/v1/sessions/${started.id}`, { key })).body as View, (view) => view.status === 'waiting-approval');
  expect((await harness.request(`/v1/sessions/${started.id}/approvals/toolu_refund`, { key, body: { decision: 'approve' } })).status).toBe(200);
  await eventually(async () => (await harness.request(`/v1/sessions/${started.id}`, { key })).body as View, (view) => view.status === 'completed');
  return started.id;
}

describe('GET /v1/sessions/:id/audit', () => {
  it("verifies only the session's own records and tells nothing of the rest of the log", async () => {
    const acme = await harness.key('acme', ['read', 'run', 'approve']);
    const ours = await refundedSession(harness.adminKey);
    await refundedSession(acme);
    await refundedSession(harness.adminKey);
    const audit = (await harness.request(`/v1/sessions/${ours}/audit`)).body as Audit;
    expect(audit.entries.length).toBeGreaterThan(0);
    expect(audit.entries.every((entry) => entry.sessionId === ours)).toBe(true);
    expect(audit.verification).toEqual({ ok: true, scope: 'session', checked: audit.entries.length });
    // The whole log still verifies: the records of three sessions, more than this session's.
    const whole = await harness.keel.audit.verify();
    expect(whole.ok && whole.records > audit.entries.length).toBe(true);
  });

  it('names the first of its records that was changed after it was written', async () => {
    const id = await refundedSession(harness.adminKey);
    const before = (await harness.request(`/v1/sessions/${id}/audit`)).body as Audit;
    const target = before.entries.at(-1)!.seq;
    const database = new Database(harness.keel.databasePath as string);
    try {
      // Someone with write access to the database file: the append-only trigger does not stop them.
      database.exec('DROP TRIGGER audit_records_append_only_update');
      database.prepare("UPDATE audit_records SET rule = 'forged-rule' WHERE seq = ?").run(target);
    } finally {
      database.close();
    }
    const after = (await harness.request(`/v1/sessions/${id}/audit`)).body as Audit;
    expect(after.verification).toMatchObject({ ok: false, scope: 'session', firstBadSeq: target, problem: expect.stringContaining('does not match its hash') });
  });
});
