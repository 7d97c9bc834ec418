// Probe (session 10, held tool results; failed at eac4b5b, fixed by 86c063f: signals are judged on folded events).
// It saw an event only when it was written (onWritten). A held
// tool outcome is written with the next append; when that append is the session's end (a critical tool's error ends
// the session at once), the `tool-error-rate` signal that outcome crosses is found after the session-end is written,
// and the loop, finished, never journals it. Before eac4b5b the error was written alone, the signal was journaled
// (record-anomalies) and then the session ended. Compare: the same session with no idempotency stage (nothing held).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { createMemoryIdempotencyStore, createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const failing = defineTool({
  name: 'pay',
  description: 'pays',
  input: z.object({}),
  critical: true,
  execute: async () => {
    throw new Error('card declined');
  },
});
const agent = defineAgent({ name: 'payer', instructions: 'Pay.', tools: [failing] });
const script = [{ content: [toolUse('c1', 'pay', {})] }, { content: [text('unreachable')] }];
const thresholds = { minToolCallsForErrorRate: 1, maxToolErrorRate: 0.5 };

async function anomaliesOf(withIdempotency: boolean): Promise<string[]> {
  const tools = createToolPipeline(withIdempotency ? { executeStages: [createIdempotencyStage({ ...createMemoryIdempotencyStore(), durable: true })] } : {});
  const dependencies = dependenciesFor(scriptedCaller(script), { journal: createMemoryJournal(), tools, anomalies: thresholds });
  const sessionId = withIdempotency ? 'ses_anomaly_held' : 'ses_anomaly_alone';
  const result = await startSession(agent, dependencies, { input: 'pay', sessionId }).result;
  expect(result.status).toBe('failed');
  const events = await readAll(dependencies, sessionId);
  expect(validateJournal(events).problems).toEqual([]);
  expect(events.at(-1)?.type).toBe('session-end');
  return events.flatMap((event) => (event.type === 'anomaly' ? [event.signal] : []));
}

describe('anomaly signals crossed by a held tool outcome', () => {
  it('control: without an idempotency stage the error is written alone and its tool-error-rate signal is journaled', async () => {
    expect(await anomaliesOf(false)).toEqual(['tool-error-rate']);
  });

  it('a critical tool error held until the session end still gets its tool-error-rate signal journaled', async () => {
    expect(await anomaliesOf(true)).toEqual(['tool-error-rate']);
  });
});
