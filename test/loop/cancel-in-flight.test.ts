import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import type { AgentToolCallOptions } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { ToolDefinition } from '../../src/tools/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

type Behaviour = 'ignores-abort-and-completes' | 'never-settles' | 'stops-on-abort';

/** A transfer tool whose run the test controls; `started` resolves when the tool itself is called. */
function transferTool(behaviour: Behaviour, withCompensation: boolean) {
  const log: string[] = [];
  let markStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  let finish: () => void = () => undefined;
  const tool = defineTool({
    name: 'transfer',
    description: 'Moves money',
    input: z.object({ amount: z.number() }),
    execute: ({ amount }, context) => {
      log.push(`run ${amount} ${context.idempotencyKey.slice(0, 12)}`);
      markStarted();
      if (behaviour === 'never-settles') return new Promise<never>(() => undefined);
      return new Promise<string>((resolve, reject) => {
        if (behaviour === 'stops-on-abort') context.signal.addEventListener('abort', () => reject(context.signal.reason), { once: true });
        // Released by the test after the cancellation: the effect lands after the abort, inside the grace period.
        finish = () => {
          log.push(`applied ${amount}`);
          resolve(`transferred ${amount}`);
        };
      });
    },
    ...(withCompensation
      ? {
          compensate: ({ amount }: { amount: number }, output: string, context: { idempotencyKey: string }) => {
            log.push(`undo ${amount} output=[${output}] ${context.idempotencyKey.slice(0, 12)}`);
            return `refunded ${amount}`;
          },
        }
      : {}),
  });
  return { tool, log, started, finish: () => finish() };
}

const script = [{ content: [text('Transferring.'), toolUse('t1', 'transfer', { amount: 5 })] }, { content: [text('Done.')] }];

function agentWith(tool: ToolDefinition, toolCalls: AgentToolCallOptions = {}) {
  return defineAgent({ name: 'bank', instructions: 'Move money.', tools: [tool], toolCalls });
}

function outcomesOf(events: readonly SessionEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'tool-result' ? [`result:${event.output}`] : event.type === 'tool-error' ? [`error:${event.error.code}`] : []));
}

describe('cancellation with a tool call in flight', () => {
  it('a tool that ignores the abort and completes within the grace period is journaled completed, before the session ends cancelled', async () => {
    const transfer = transferTool('ignores-abort-and-completes', false);
    const dependencies = dependenciesFor(scriptedCaller(script));
    const controller = new AbortController();
    const run = startSession(agentWith(transfer.tool), dependencies, { input: 'pay', sessionId: 'ses_grace', signal: controller.signal });
    await transfer.started;
    controller.abort();
    // The effect lands after the abort; the loop is still waiting within its grace period.
    await new Promise((resolve) => setTimeout(resolve, 5));
    transfer.finish();
    const result = await run.result;
    expect(result.status).toBe('cancelled');
    const events = await readAll(dependencies, 'ses_grace');
    expect(validateJournal(events).problems).toEqual([]);
    expect(outcomesOf(events)).toEqual(['result:transferred 5']);
    expect(events.map((event) => event.type).slice(-2)).toEqual(['tool-result', 'session-end']);
    expect(transfer.log).toEqual([expect.stringMatching(/^run 5 /), 'applied 5']);
  });

  it('a tool that never settles, without a compensation, is journaled unknown (never cancelled) and named for a person', async () => {
    const transfer = transferTool('never-settles', false);
    const dependencies = dependenciesFor(scriptedCaller(script));
    const controller = new AbortController();
    const run = startSession(agentWith(transfer.tool, { cancelGraceMs: 20 }), dependencies, { input: 'pay', sessionId: 'ses_unknown', signal: controller.signal });
    await transfer.started;
    controller.abort();
    const result = await run.result;
    expect(result.status).toBe('cancelled');
    expect(result.error?.message).toContain('outcome is unknown: transfer (call t1, idempotency key idem_');
    const events = await readAll(dependencies, 'ses_unknown');
    expect(validateJournal(events).problems).toEqual([]);
    expect(outcomesOf(events)).toEqual(['error:tool-outcome-unknown']);
    const unknown = events.find((event) => event.type === 'tool-error');
    expect(unknown?.type === 'tool-error' ? unknown.error.message : '').toContain('may have applied its effect');

    // Resuming the ended session runs nothing again.
    const resumed = await resumeSession(agentWith(transfer.tool), dependencies, 'ses_unknown').result;
    expect(resumed.status).toBe('cancelled');
    expect(transfer.log.filter((line) => line.startsWith('run'))).toHaveLength(1);
  });

  it('a tool that never settles, with a compensation, is journaled unknown and then compensated under its own key', async () => {
    const transfer = transferTool('never-settles', true);
    const dependencies = dependenciesFor(scriptedCaller(script));
    const controller = new AbortController();
    const run = startSession(agentWith(transfer.tool, { cancelGraceMs: 20 }), dependencies, { input: 'pay', sessionId: 'ses_compensated', signal: controller.signal });
    await transfer.started;
    controller.abort();
    const result = await run.result;
    expect(result.status).toBe('cancelled');
    const events = await readAll(dependencies, 'ses_compensated');
    expect(validateJournal(events).problems).toEqual([]);
    expect(events.map((event) => event.type).slice(-4)).toEqual(['tool-error', 'compensation-request', 'compensation-result', 'session-end']);
    expect(outcomesOf(events)).toEqual(['error:tool-outcome-unknown']);
    const compensation = events.find((event) => event.type === 'compensation-result');
    expect(compensation).toMatchObject({ callId: 't1', ok: true, output: 'refunded 5' });
    const request = events.find((event) => event.type === 'compensation-request');
    expect(transfer.log).toEqual([expect.stringMatching(/^run 5 /), `undo 5 output=[] ${request?.type === 'compensation-request' ? request.idempotencyKey.slice(0, 12) : ''}`]);
  });

  it('a resume after an unknown outcome goes on without running the call again: the model sees the unknown outcome', async () => {
    const transfer = transferTool('never-settles', false);
    const reference = dependenciesFor(scriptedCaller(script));
    const controller = new AbortController();
    const run = startSession(agentWith(transfer.tool, { cancelGraceMs: 20 }), reference, { input: 'pay', sessionId: 'ses_resume', signal: controller.signal });
    await transfer.started;
    controller.abort();
    await run.result;
    // The process stopped after journaling the unknown outcome and before the session-end.
    const full = await readAll(reference, 'ses_resume');
    const cut = full.findIndex((event) => event.type === 'tool-error') + 1;
    const journal = createMemoryJournal();
    await journal.append('ses_resume', full.slice(0, cut), 0);
    const model = scriptedCaller(script);
    const dependencies = dependenciesFor(model, { journal });
    const resumed = await resumeSession(agentWith(transfer.tool), dependencies, 'ses_resume').result;
    expect(resumed.status).toBe('completed');
    expect(transfer.log.filter((line) => line.startsWith('run'))).toHaveLength(1);
    const lastMessage = model.requests.at(-1)?.messages.at(-1);
    expect(lastMessage?.content[0]).toMatchObject({ type: 'tool_result', toolUseId: 't1', isError: true, content: expect.stringContaining('Error (tool-outcome-unknown)') });
  });

  it('a tool that stops on the abort reports its own cancellation, and calls still queued never start', async () => {
    const transfer = transferTool('stops-on-abort', false);
    const queued = { runs: 0 };
    const other = defineTool({ name: 'note', description: 'notes', input: z.object({ n: z.number() }), execute: () => {
      queued.runs += 1;
      return 'noted';
    } });
    const dependencies = dependenciesFor(scriptedCaller([{ content: [toolUse('t1', 'transfer', { amount: 1 }), toolUse('n1', 'note', { n: 1 }), toolUse('n2', 'note', { n: 2 })] }, { content: [text('Done.')] }]));
    const controller = new AbortController();
    const agent = defineAgent({ name: 'bank', instructions: 'Move money.', tools: [transfer.tool, other], toolCalls: { concurrency: 1 } });
    const run = startSession(agent, dependencies, { input: 'pay', sessionId: 'ses_stop', signal: controller.signal });
    await transfer.started;
    controller.abort();
    const result = await run.result;
    expect(result.status).toBe('cancelled');
    const events = await readAll(dependencies, 'ses_stop');
    expect(validateJournal(events).problems).toEqual([]);
    expect(outcomesOf(events)).toEqual(['error:cancelled', 'error:cancelled', 'error:cancelled']);
    const notRun = events.filter((event) => event.type === 'tool-error' && event.callId.startsWith('n'));
    expect(notRun.every((event) => event.type === 'tool-error' && event.error.message.startsWith('Not run: the session was stopped before this call started'))).toBe(true);
    expect(queued.runs).toBe(0);
  });
});
