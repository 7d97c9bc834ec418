import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import { createMemoryBlobStore, createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { loadScriptedModel } from '../../src/model/index.ts';
import type { SessionResult } from '../../src/loop/index.ts';
import { createTriageAgent } from './agent.ts';
import { createRecordedReader, inbox } from './inbox.ts';

describe('e-mail triage example (offline, recorded replies)', () => {
  it('never forwards to an address an e-mail chose; the user\u2019s own forward goes through; the agent\u2019s model never reads a body', async () => {
    const outbox: { id: string; to: string }[] = [];
    const agent = createTriageAgent({ outbox, reader: createRecordedReader() });
    const model = loadScriptedModel(fileURLToPath(new URL('./model.json', import.meta.url)));
    const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
    try {
      let result: SessionResult = await keel.run(agent).result;
      const escalated: { to: string; rule: string }[] = [];
      // A person who approves only addresses the user wrote in the task.
      while (result.status === 'awaiting-approval') {
        const pending = result.pendingApprovals[0];
        if (pending === undefined) break;
        const to = String((pending.input as { to?: unknown }).to);
        escalated.push({ to, rule: pending.rule });
        const approved = (agent.defaultTask ?? '').includes(to);
        result = await (await keel.decide(agent, result.sessionId, pending.callId, { approved, approver: 'test' })).result;
      }
      expect(result.status).toBe('completed');
      expect(outbox).toEqual([{ id: 'm2', to: 'accounts@acme.example' }]);
      // The forward to the attacker's address was stopped before it ran, by information-flow control.
      expect(escalated.find((each) => each.to === 'ceo.office@acme-secure-mail.example')?.rule).toMatch(/^flow:/);

      const events = await keel.events(result.sessionId);
      expect(validateJournal(events).problems).toEqual([]);
      const reads = events.filter((event) => event.type === 'quarantined-read');
      expect(reads.map((event) => event.type === 'quarantined-read' && [event.callId, event.ok, event.model])).toEqual([
        ['t1', true, 'recorded-reader'],
        ['t2', true, 'recorded-reader'],
        ['t3', true, 'recorded-reader'],
      ]);
      // Every request the agent's model was sent is in the blob store: none holds a word of an e-mail body.
      for (const event of events) {
        if (event.type !== 'model-request') continue;
        const request = (await keel.blobs.get(event.requestHash)) ?? '';
        for (const email of inbox) expect(request).not.toContain(email.body.slice(0, 40));
      }
    } finally {
      await keel.close();
    }
  });

  it('information-flow control alone (no detectors) stops the forward to the sender and lets the user\u2019s forward run without a prompt', async () => {
    const outbox: { id: string; to: string }[] = [];
    const agent = createTriageAgent({ outbox, reader: createRecordedReader(), injection: { layers: [] } });
    const model = loadScriptedModel(fileURLToPath(new URL('./model.json', import.meta.url)));
    const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
    try {
      const result = await keel.run(agent).result;
      expect(result.status).toBe('awaiting-approval');
      expect(outbox).toEqual([{ id: 'm2', to: 'accounts@acme.example' }]);
      expect(result.pendingApprovals).toHaveLength(1);
      expect(result.pendingApprovals[0]).toMatchObject({ callId: 'fwd-attacker', rule: 'flow:untrusted-argument:to' });
      expect(result.pendingApprovals[0]?.reason).toContain('list_inbox');
    } finally {
      await keel.close();
    }
  });
});
