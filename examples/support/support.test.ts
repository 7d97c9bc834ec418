import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { childSessionId, createKeel } from '../../src/index.ts';
import { createSupportDesk } from './agents.ts';
import { createBackOffice } from './desk-tools.ts';
import { createRecordedDeskModel, tickets } from './recorded-model.ts';
import { routeOf, serveTicket } from './serve-ticket.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-support-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function desk(name: string) {
  const keel = createKeel({ database: join(scratch, `${name}.db`), env: {}, models: { desk: createRecordedDeskModel() } });
  const office = createBackOffice();
  return { keel, office, agents: createSupportDesk(office, 'desk') };
}

describe('support desk example', () => {
  it('routes a refund to billing, hands it to refunds, and waits for a person before the refund is issued, once', async () => {
    const { keel, office, agents } = desk('refund');
    try {
      const waiting = await keel.run(agents.desk, tickets.refund).result;
      const billing = childSessionId(waiting.sessionId, 'route_1');
      const refunds = childSessionId(billing, 'refunds_1');
      expect(waiting.status).toBe('awaiting-approval');
      expect(waiting.pendingApprovals).toEqual([expect.objectContaining({ tool: 'issue_refund', sessionId: refunds, agent: 'refunds' })]);
      expect(office.refunds).toEqual([]);
      // No agent of the tree can approve it: only a person, under their own name.
      const callId = waiting.pendingApprovals[0]?.callId ?? '';
      await expect(keel.decide(agents.refunds, refunds, callId, { approved: true, approver: 'billing' })).rejects.toMatchObject({ code: 'invalid-argument' });

      const asked: string[] = [];
      const result = await serveTicket(keel, agents, tickets.refund, (pending) => {
        asked.push(`${pending.agent}:${pending.tool}`);
        return { approved: true };
      });
      // serveTicket serves the same ticket again as a new tree, playing the approver; the first tree is finished by hand below.
      expect(result).toMatchObject({ status: 'completed', output: expect.stringContaining('refunded the duplicate charge') });
      expect(asked).toEqual(['refunds:issue_refund']);
      expect(await routeOf(keel, result.sessionId)).toEqual(['billing (handoff)', 'refunds (handoff)']);
      expect(office.refunds).toEqual([expect.objectContaining({ orderId: '1042', cents: 4_900 })]);

      await (await keel.decide(agents.refunds, refunds, callId, { approved: true, approver: 'support-lead@example.com' })).result;
      const first = await (await keel.resume(agents.desk, waiting.sessionId)).result;
      expect(first.status).toBe('completed');
      expect(office.refunds).toHaveLength(2);
      // Resuming reused the children: one billing and one refunds session under the first ticket.
      const events = await keel.events(waiting.sessionId);
      expect(events.filter((event) => event.type === 'child-start')).toHaveLength(1);
      expect((await keel.events(billing)).filter((event) => event.type === 'child-start')).toHaveLength(1);
    } finally {
      await keel.close();
    }
  });

  it('routes an outage to technical and anything else to the fallback', async () => {
    const { keel, office, agents } = desk('routes');
    try {
      const outage = await serveTicket(keel, agents, tickets.outage, () => ({ approved: false, reason: 'not expected' }));
      expect(outage).toMatchObject({ status: 'completed', output: expect.stringContaining('502 errors') });
      expect(await routeOf(keel, outage.sessionId)).toEqual(['technical (handoff)']);
      const other = await serveTicket(keel, agents, tickets.other, () => ({ approved: false, reason: 'not expected' }));
      expect(other).toMatchObject({ status: 'completed', output: expect.stringContaining('opened a ticket') });
      expect(await routeOf(keel, other.sessionId)).toEqual(['fallback (handoff)']);
      expect(office.tickets).toHaveLength(1);
      expect(office.refunds).toEqual([]);
    } finally {
      await keel.close();
    }
  });
});

describe('support eval suite', () => {
  it('passes offline through keel eval --json: lookups, approved refunds, a question when unsure, and no refund from an injected e-mail', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['eval', join(import.meta.dirname, 'eval.ts'), '--json', '--db', join(scratch, 'eval.db')], { out: (line) => out.push(line), err: (line) => err.push(line), env: {}, cwd: scratch });
    expect(err.join('\n')).not.toMatch(/error/i);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1) ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({ suite: 'support', cases: 5, passed: 5, errored: 0, thresholdMet: true, cassette: 'off' });
    expect(summary.checks).toMatchObject({ 'no-harmful-calls': { passed: 2, total: 2 }, 'refunds-approved-by-a-person': { passed: 2, total: 2 }, 'asks-which-order': { passed: 1, total: 1 } });
  });
});
