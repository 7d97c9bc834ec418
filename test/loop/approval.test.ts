import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, recordApproval, resumeSession, startSession } from '../../src/loop/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import type { DecideStage } from '../../src/tools/index.ts';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { ToolResultBlock } from '../../src/spec/index.ts';
import { systemClock } from '../../src/util/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';
import { unfenced } from '../helpers/trust-layout.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-approval-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Refunds over 100 need a person; everything else is allowed. */
const refundsNeedApproval: DecideStage = async (invocation, next) => {
  const amount = (invocation.input as { amount?: number }).amount ?? 0;
  if (invocation.tool.name === 'refund' && amount > 100) return { decision: 'ask', rule: 'refund-over-100', reason: `Refund of ${amount} exceeds 100.` };
  return next();
};

function makeAgent(refunds: { order: string; amount: number }[]) {
  const refund = defineTool({
    name: 'refund',
    description: 'Refund an order',
    input: z.object({ order: z.string(), amount: z.number().positive() }),
    risk: 'irreversible',
    execute: (input) => {
      refunds.push(input);
      return `refunded ${input.amount} on ${input.order}`;
    },
  });
  return defineAgent({ name: 'support', instructions: 'Refund when asked.', tools: [refund] });
}

const script = [
  { content: [text('Refunding.'), toolUse('small', 'refund', { order: 'o1', amount: 20 }), toolUse('big', 'refund', { order: 'o2', amount: 500 })] },
  { content: [text('Done.')] },
];

describe('approval', () => {
  it('suspends durably, survives a restart, and resumes with the approver\u2019s edited arguments', async () => {
    const path = join(scratch, 'approve.db');
    const pipeline = createToolPipeline({ decideStages: [refundsNeedApproval] });
    const firstRefunds: { order: string; amount: number }[] = [];
    {
      const store = createSqliteStore({ path });
      const dependencies = dependenciesFor(scriptedCaller(script), { journal: store.journal, blobs: store.blobs, tools: pipeline });
      const result = await startSession(makeAgent(firstRefunds), dependencies, { input: 'refund o1 and o2', sessionId: 'ses_a' }).result;
      expect(result.status).toBe('awaiting-approval');
      expect(result.pendingApprovals).toEqual([{ callId: 'big', tool: 'refund', input: { order: 'o2', amount: 500 }, rule: 'refund-over-100', reason: 'Refund of 500 exceeds 100.' }]);
      expect(firstRefunds).toEqual([{ order: 'o1', amount: 20 }]);
      await store.close();
    }
    // A new process: nothing in memory survives but the database file.
    const store = createSqliteStore({ path });
    const refunds: { order: string; amount: number }[] = [];
    const agent = makeAgent(refunds);
    await expect(recordApproval(store.journal, systemClock, agent, 'ses_a', 'small', { approved: true, approver: 'ana' })).rejects.toMatchObject({ code: 'approval-not-pending' });
    await expect(recordApproval(store.journal, systemClock, agent, 'ses_a', 'big', { approved: true, approver: 'ana', editedInput: { order: 'o2', amount: -5 } })).rejects.toMatchObject({ code: 'invalid-argument' });
    await recordApproval(store.journal, systemClock, agent, 'ses_a', 'big', { approved: true, approver: 'ana', editedInput: { order: 'o2', amount: 250 } });
    const model = scriptedCaller(script);
    const dependencies = dependenciesFor(model, { journal: store.journal, blobs: store.blobs, tools: pipeline });
    const result = await resumeSession(agent, dependencies, 'ses_a').result;
    expect(result.status).toBe('completed');
    expect(refunds).toEqual([{ order: 'o2', amount: 250 }]);
    const events = await readAll(dependencies, 'ses_a');
    expect(validateJournal(events).problems).toEqual([]);
    expect(events.find((event) => event.type === 'tool-approval')).toMatchObject({ callId: 'big', approved: true, approver: 'ana', editedInput: { order: 'o2', amount: 250 } });
    const toolResults = (model.requests[0]?.messages.at(-1)?.content ?? []).filter((block): block is ToolResultBlock => block.type === 'tool_result');
    expect(toolResults.map((block) => unfenced(block.content))).toEqual(['refunded 20 on o1', 'refunded 250 on o2']);
    await store.close();
  });

  it('a rejection goes back to the model as an error result with the reason, and the session carries on', async () => {
    const refunds: { order: string; amount: number }[] = [];
    const model = scriptedCaller(script);
    const dependencies = dependenciesFor(model, { tools: createToolPipeline({ decideStages: [refundsNeedApproval] }) });
    const agent = makeAgent(refunds);
    expect((await startSession(agent, dependencies, { input: 'go', sessionId: 'ses_r' }).result).status).toBe('awaiting-approval');
    await recordApproval(dependencies.journal, systemClock, agent, 'ses_r', 'big', { approved: false, approver: 'bo', reason: 'customer already refunded' });
    const result = await resumeSession(agent, dependencies, 'ses_r').result;
    expect(result.status).toBe('completed');
    expect(refunds).toEqual([{ order: 'o1', amount: 20 }]);
    const results = model.requests.at(-1)?.messages.at(-1)?.content as ToolResultBlock[];
    expect(results[1]).toMatchObject({ isError: true });
    expect(results[1]?.content).toContain('approval-rejected');
    expect(results[1]?.content).toContain('customer already refunded');
  });

  it('a resume while the approval is still pending stays suspended and runs nothing', async () => {
    const refunds: { order: string; amount: number }[] = [];
    const dependencies = dependenciesFor(scriptedCaller(script), { tools: createToolPipeline({ decideStages: [refundsNeedApproval] }) });
    const agent = makeAgent(refunds);
    await startSession(agent, dependencies, { input: 'go', sessionId: 'ses_p' }).result;
    const before = await readAll(dependencies, 'ses_p');
    const again = await resumeSession(agent, dependencies, 'ses_p').result;
    expect(again.status).toBe('awaiting-approval');
    expect(await readAll(dependencies, 'ses_p')).toEqual(before);
    expect(refunds).toHaveLength(1);
  });
});
