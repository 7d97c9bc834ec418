import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asTool, childSessionId, defineAgent, handoff } from '../../src/loop/index.ts';
import { KeelError } from '../../src/errors/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import { answer, scratchKeel, taskModel, toolCall, toolCalls } from './subagent-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
function track<T extends { cleanup: () => Promise<void> }>(scratch: T): T {
  cleanups.push(scratch.cleanup);
  return scratch;
}
const types = (events: readonly SessionEvent[]) => events.map((event) => event.type);

describe('handoffs', () => {
  const refunds = defineAgent({ name: 'refunds', instructions: 'Handle refunds.', model: 'refunds', streaming: false });
  const triage = defineAgent({ name: 'triage', instructions: 'Route the customer.', tools: [handoff(refunds)], model: 'triage', streaming: false });

  it('transfers the conversation: the target answers in the parent\'s place and the parent ends with its answer', async () => {
    const { keel } = track(scratchKeel({ triage: [toolCall('transfer_to_refunds', { reason: 'The customer wants money back.' }, 'h1')], refunds: [answer('Your refund of order 7 is on its way.')] }));
    const result = await keel.run(triage, { task: 'I want my money back for order 7.', agentModule: '/srv/agents/desk.ts' }).result;
    expect(result).toMatchObject({ status: 'completed', output: 'Your refund of order 7 is on its way.' });
    const events = await keel.events(result.sessionId);
    expect(events.filter((event) => event.type === 'model-response')).toHaveLength(1);
    expect(events.find((event) => event.type === 'child-start')).toMatchObject({ mode: 'handoff', agent: 'refunds', childSessionId: childSessionId(result.sessionId, 'h1') });
    const child = await keel.events(childSessionId(result.sessionId, 'h1'));
    const input = child[0]?.type === 'session-start' ? child[0].input : '';
    expect(input).toContain('User: I want my money back for order 7.');
    expect(input).toContain('Handed over because: The customer wants money back.');
    // The child records its tree's module, so the command line can load its agent (found in the root's tree).
    expect(child[0]).toMatchObject({ agent: { name: 'refunds', module: '/srv/agents/desk.ts' } });
  });
});

describe('a child that waits for a person', () => {
  let refunded = 0;
  const issueRefund = defineTool({ name: 'issue_refund', description: 'Refunds an order.', input: z.object({ orderId: z.string() }), risk: 'irreversible', execute: ({ orderId }) => `refunded ${orderId} (${(refunded += 1)})` });
  const refunds = defineAgent({ name: 'refunds', instructions: 'Refund after approval.', tools: [issueRefund], model: 'refunds', streaming: false });
  const triage = defineAgent({ name: 'triage', instructions: 'Route.', tools: [handoff(refunds)], model: 'triage', streaming: false });

  it('suspends the whole tree; a person approves in the child; resuming the root finishes it without a second child', async () => {
    const { keel } = track(scratchKeel({ triage: [toolCall('transfer_to_refunds', { reason: 'refund' }, 'h1')], refunds: [toolCall('issue_refund', { orderId: '7' }, 'r1'), answer('Refunded order 7.')] }));
    const waiting = await keel.run(triage, 'Refund order 7.').result;
    const child = childSessionId(waiting.sessionId, 'h1');
    expect(waiting.status).toBe('awaiting-approval');
    expect(waiting.pendingApprovals).toEqual([expect.objectContaining({ callId: 'r1', tool: 'issue_refund', sessionId: child, agent: 'refunds' })]);
    expect(types(await keel.events(waiting.sessionId))).not.toContain('tool-result');

    const approved = await (await keel.decide(refunds, child, 'r1', { approved: true, approver: 'ops@example.com' })).result;
    expect(approved).toMatchObject({ status: 'completed', output: 'Refunded order 7.' });
    const finished = await (await keel.resume(triage, waiting.sessionId)).result;
    expect(finished).toMatchObject({ status: 'completed', output: 'Refunded order 7.' });
    expect(refunded).toBe(1);
    const events = await keel.events(waiting.sessionId);
    expect(events.filter((event) => event.type === 'child-start')).toHaveLength(1);
    expect(events.find((event) => event.type === 'child-end')).toMatchObject({ status: 'completed', childSessionId: child });
  });
});

describe('cancelling the root', () => {
  it('cancels the tree and undoes effects newest first across it', async () => {
    const undone: string[] = [];
    let hanging: (() => void) | undefined;
    const started = new Promise<void>((resolve) => {
      hanging = resolve;
    });
    const book = defineTool({ name: 'book', description: 'Books a room.', input: z.object({ room: z.string() }), execute: ({ room }) => `booked ${room}`, compensate: ({ room }) => void undone.push(`book ${room}`) });
    const wait = defineTool({
      name: 'wait_for_confirmation',
      description: 'Waits.',
      input: z.object({}),
      risk: 'read',
      execute: (_input, { signal }) =>
        new Promise((_resolve, reject) => {
          hanging?.();
          signal.addEventListener('abort', () => reject(new KeelError('cancelled', 'stopped')));
        }),
    });
    const reserve = defineTool({ name: 'reserve', description: 'Reserves a budget.', input: z.object({}), execute: () => 'reserved', compensate: () => void undone.push('reserve') });
    const booker = defineAgent({ name: 'booker', instructions: 'Book.', tools: [book, wait], model: 'tree', streaming: false });
    const planner = defineAgent({ name: 'planner', instructions: 'Plan.', tools: [reserve, asTool(booker, { description: 'Books one room.' })], model: 'tree', streaming: false });
    const model = taskModel((task, turn) => {
      if (task === 'Plan the offsite.') return [toolCall('reserve', {}, 'p1'), toolCall('booker', { task: 'room A' }, 'p2'), toolCall('booker', { task: 'room B' }, 'p3'), answer('planned')][turn] ?? answer('planned');
      const room = task.slice(-1);
      return [toolCall('book', { room }, 'b1'), ...(room === 'B' ? [toolCall('wait_for_confirmation', {}, 'b2')] : []), answer(`booked ${room}`)][turn] ?? answer('done');
    });
    const { keel } = track(scratchKeel({ tree: model }));
    const controller = new AbortController();
    const run = keel.run(planner, { task: 'Plan the offsite.', signal: controller.signal });
    await started;
    controller.abort(new KeelError('cancelled', 'The user cancelled the offsite.'));
    const result = await run.result;
    expect(result.status).toBe('cancelled');
    // B undid its own booking as it was cancelled; then the root's saga undid A's child session, then its own reserve.
    expect(undone).toEqual(['book B', 'book A', 'reserve']);
    const roomB = await keel.events(childSessionId(result.sessionId, 'p3'));
    expect(roomB.at(-1)).toMatchObject({ type: 'session-end', status: 'cancelled' });
    const root = await keel.events(result.sessionId);
    expect(root.find((event) => event.type === 'child-end' && event.callId === 'p3')).toMatchObject({ status: 'cancelled' });
    expect(root.filter((event) => event.type === 'compensation-result').map((event) => (event.type === 'compensation-result' ? [event.tool, event.ok] : []))).toEqual([
      ['booker', true],
      ['reserve', true],
    ]);
  });
});

describe('two subagents updating the same record', () => {
  /** A record with a version: a write names the version it read, and is refused when another write came first. */
  class VersionedRecord {
    version = 0;
    tags: string[] = [];
    read() {
      return { version: this.version, tags: [...this.tags] };
    }
    write(expectedVersion: number, tags: string[]): boolean {
      if (expectedVersion !== this.version) return false;
      this.version += 1;
      this.tags = tags;
      return true;
    }
  }

  function tagger(record: VersionedRecord, mode: 'checked' | 'blind') {
    let readers = 0;
    let release: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => {
      release = resolve;
    });
    const addTag = defineTool({
      name: 'add_tag',
      description: 'Adds a tag to the customer record.',
      input: z.object({ tag: z.string() }),
      execute: async ({ tag }) => {
        for (let attempt = 1; attempt <= 5; attempt += 1) {
          const seen = record.read();
          // Both subagents read before either writes: the interleaving that loses an update.
          if (attempt === 1) {
            readers += 1;
            if (readers === 2) release();
            await bothRead;
          }
          const written = mode === 'checked' ? record.write(seen.version, [...seen.tags, tag]) : ((record.version += 1), (record.tags = [...seen.tags, tag]), true);
          if (written) return `tagged ${tag} (version ${record.version}, attempt ${attempt})`;
        }
        throw new Error('The record kept changing; try again later.');
      },
    });
    const worker = defineAgent({ name: 'tagger', instructions: 'Tag the record.', tools: [addTag], model: 'tree', streaming: false });
    return defineAgent({ name: 'curator', instructions: 'Tag the record twice, in parallel.', tools: [asTool(worker, { description: 'Adds one tag.' })], model: 'tree', streaming: false });
  }

  const model = taskModel((task, turn) => {
    if (task === 'Tag the customer.') return turn === 0 ? toolCalls([{ name: 'tagger', input: { task: 'tag vip' }, id: 't1' }, { name: 'tagger', input: { task: 'tag churn-risk' }, id: 't2' }]) : answer('tagged');
    return turn === 0 ? toolCall('add_tag', { tag: task.slice(4) }, 'a1') : answer('done');
  });

  it('keeps both updates with a version check (the second writer re-reads and re-applies)', async () => {
    const record = new VersionedRecord();
    const { keel } = track(scratchKeel({ tree: model }));
    const result = await keel.run(tagger(record, 'checked'), 'Tag the customer.').result;
    expect(result.status).toBe('completed');
    expect(record.tags.sort()).toEqual(['churn-risk', 'vip']);
    expect(record.version).toBe(2);
  });

  it('loses one without it: the race the check closes is real', async () => {
    const record = new VersionedRecord();
    const { keel } = track(scratchKeel({ tree: model }));
    await keel.run(tagger(record, 'blind'), 'Tag the customer.').result;
    expect(record.tags).toHaveLength(1);
  });
});
