import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asTool, defineAgent } from '../../src/loop/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { isKeelError } from '../../src/errors/index.ts';
import { answer, scratchKeel, toolCall } from './subagent-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const refund = defineTool({ name: 'refund', description: 'Refunds an order.', input: z.object({ orderId: z.string() }), scopes: ['payments:write'], execute: ({ orderId }) => `refunded ${orderId}` });
const lookup = defineTool({ name: 'lookup', description: 'Looks an order up.', input: z.object({ orderId: z.string() }), scopes: ['orders:read'], risk: 'read', execute: ({ orderId }) => `order ${orderId}: paid` });
const refunder = defineAgent({ name: 'refunder', instructions: 'Refund.', tools: [refund, lookup], scopes: ['payments:write', 'orders:read'], model: 'child', streaming: false });
const reader = defineAgent({ name: 'reader', instructions: 'Read.', tools: [lookup, refund], scopes: ['orders:read'], model: 'child', streaming: false });

describe('scopes that only narrow', () => {
  it('refuses, at definition, a parent that delegates to a child with a scope the parent lacks', () => {
    let thrown: unknown;
    try {
      defineAgent({ name: 'desk', instructions: 'Help.', scopes: ['orders:read'], tools: [asTool(refunder, { description: 'Refunds.' })] });
    } catch (error) {
      thrown = error;
    }
    expect(isKeelError(thrown, 'invalid-config')).toBe(true);
    expect((thrown as Error).message).toMatch(/declares scope\(s\) "payments:write" that "desk" does not hold/);
  });

  it('refuses, at delegation, a child asking for a scope its parent does not hold; the child never starts', async () => {
    // A parent whose scopes were narrowed after its tools were chosen (the runtime sees what it holds now).
    const full = defineAgent({ name: 'desk', instructions: 'Help.', scopes: ['orders:read', 'payments:write'], tools: [asTool(refunder, { description: 'Refunds.' })], model: 'parent', streaming: false });
    const narrowed: AgentDefinition = { ...full, scopes: ['orders:read'] };
    const { keel } = track(scratchKeel({ parent: [toolCall('refunder', { task: 'Refund order 7.' }, 'call_1'), answer('could not')], child: [answer('never')] }));
    const result = await keel.run(narrowed, 'Refund order 7.').result;
    const events = await keel.events(result.sessionId);
    expect(events.find((event) => event.type === 'tool-decision')).toMatchObject({ decision: 'deny', rule: 'scope:payments:write' });
    expect(events.some((event) => event.type === 'child-start')).toBe(false);

    // The runtime's own check, for callers that delegate without the pipeline (a workflow step).
    const run = keel.runChild({ agent: refunder, parentSessionId: result.sessionId, callId: 'step-1', task: 'Refund order 7.', mode: 'step', heldScopes: ['orders:read'], deadlineAt: null, budget: null, slice: null });
    await expect(run.result).rejects.toMatchObject({ code: 'tool-denied', message: expect.stringMatching(/"payments:write" that its parent .* does not hold/) });
    expect(await keel.journal.lastSeq(run.sessionId)).toBe(0);
  });

  it('runs the child with its own narrower scopes: its tools beyond them are denied inside the child', async () => {
    const desk = defineAgent({ name: 'desk', instructions: 'Help.', scopes: ['orders:read', 'payments:write'], tools: [asTool(reader, { description: 'Reads orders.' })], model: 'parent', streaming: false });
    const { keel } = track(
      scratchKeel({
        parent: [toolCall('reader', { task: 'Check order 7 and refund it.' }, 'call_1'), answer('checked')],
        child: [toolCall('refund', { orderId: '7' }, 'c1'), toolCall('lookup', { orderId: '7' }, 'c2'), answer('order 7 is paid; I may not refund')],
      }),
    );
    const result = await keel.run(desk, 'Check order 7.').result;
    expect(result.status).toBe('completed');
    const events = await keel.events(result.sessionId);
    const start = events.find((event) => event.type === 'child-start');
    const child = await keel.events(start?.type === 'child-start' ? start.childSessionId : '');
    expect(child.find((event) => event.type === 'tool-decision' && event.tool === 'refund')).toMatchObject({ decision: 'deny', rule: 'scope:payments:write' });
    expect(child.find((event) => event.type === 'tool-result' && event.tool === 'lookup')).toBeDefined();
    // The child's answer is untrusted data for the parent.
    expect(events.find((event) => event.type === 'tool-result' && event.tool === 'reader')).toMatchObject({ output: 'order 7 is paid; I may not refund', provenance: 'subagent' });
    // A clean context: the child saw its task and nothing of the parent's conversation.
    expect(child[0]).toMatchObject({ type: 'session-start', input: 'Check order 7 and refund it.', parentSessionId: result.sessionId });
  });

  it('refuses an approval signed with the name of an agent of the tree', async () => {
    const gated = defineAgent({ name: 'gated', instructions: 'Refund.', tools: [defineTool({ name: 'wire', description: 'Wires money.', input: z.object({ cents: z.number() }), risk: 'irreversible', execute: () => 'sent' })], model: 'parent', streaming: false });
    const { keel } = track(scratchKeel({ parent: [toolCall('wire', { cents: 5 }, 'w1'), answer('sent')] }));
    const waiting = await keel.run(gated, 'Send 5 cents.').result;
    expect(waiting.status).toBe('awaiting-approval');
    await expect(keel.decide(gated, waiting.sessionId, 'w1', { approved: true, approver: 'gated' })).rejects.toMatchObject({ code: 'invalid-argument', message: expect.stringMatching(/no agent may approve its own/) });
    const approved = await (await keel.decide(gated, waiting.sessionId, 'w1', { approved: true, approver: 'ops@example.com' })).result;
    expect(approved.status).toBe('completed');
  });
});

function track<T extends { cleanup: () => Promise<void> }>(scratch: T): T {
  cleanups.push(scratch.cleanup);
  return scratch;
}

describe('finding a child session\'s agent in its tree', () => {
  it('finds subagents and handoff targets at any depth, and the root itself', async () => {
    const { findSubagent, handoff } = await import('../../src/loop/index.ts');
    const leaf = defineAgent({ name: 'leaf', instructions: 'x' });
    const middle = defineAgent({ name: 'middle', instructions: 'x', tools: [handoff(leaf)] });
    const root = defineAgent({ name: 'root', instructions: 'x', tools: [asTool(middle, { description: 'Middle.' })] });
    expect(findSubagent(root, 'root')).toBe(root);
    expect(findSubagent(root, 'middle')).toBe(middle);
    expect(findSubagent(root, 'leaf')).toBe(leaf);
    expect(findSubagent(root, 'nobody')).toBeNull();
  });
});
