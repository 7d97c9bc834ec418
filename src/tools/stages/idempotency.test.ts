import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createMemoryIdempotencyStore, createSqliteIdempotencyStore, openSqliteDatabase } from '../../store/index.ts';
import { createToolPipeline } from '../pipeline/tool-pipeline.ts';
import { defineTool } from '../define-tool.ts';
import { KeelError } from '../../errors/index.ts';
import { createIdempotencyStage } from './idempotency.ts';

function invocation(tool: ReturnType<typeof defineTool>, key: string, signal = new AbortController().signal) {
  return {
    sessionId: 's', turn: 1, callId: 'c', idempotencyKey: key, agent: { name: 'a', scopes: [] }, tool, input: { n: 1 }, signal,
    decision: { decision: 'allow' as const, rule: 'default', reason: '' }, approval: null,
  };
}

describe('idempotency stage', () => {
  for (const [name, makeStore] of [
    ['memory', () => createMemoryIdempotencyStore()],
    ['sqlite', () => createSqliteIdempotencyStore(openSqliteDatabase({ path: ':memory:' }))],
  ] as const) {
    it(`${name}: a re-run with the same key returns the recorded outcome without running the tool`, async () => {
      let runs = 0;
      const tool = defineTool({ name: 'charge', description: 'x', input: z.object({ n: z.number() }), execute: ({ n }) => { runs += 1; return `charged ${n} (run ${runs})`; } });
      const store = makeStore();
      const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(store)] });
      const first = await pipeline.execute(invocation(tool, 'k1'));
      const second = await pipeline.execute(invocation(tool, 'k1'));
      expect(first).toMatchObject({ ok: true, output: 'charged 1 (run 1)' });
      expect(second).toMatchObject({ ok: true, output: 'charged 1 (run 1)' });
      expect(runs).toBe(1);
      await pipeline.execute(invocation(tool, 'k2'));
      expect(runs).toBe(2);
    });

    it(`${name}: a recorded failure is returned as the same typed error; a cancellation is not recorded`, async () => {
      let runs = 0;
      const failing = defineTool({ name: 'f', description: 'x', input: z.object({ n: z.number() }), execute: () => { runs += 1; throw new KeelError('tool-failed', 'card declined'); } });
      const store = makeStore();
      const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(store)] });
      await pipeline.execute(invocation(failing, 'k'));
      const again = await pipeline.execute(invocation(failing, 'k'));
      expect(again).toMatchObject({ ok: false, error: { code: 'tool-failed', message: 'card declined' } });
      expect(runs).toBe(1);

      const controller = new AbortController();
      controller.abort(new KeelError('cancelled', 'stop'));
      const slow = defineTool({ name: 's', description: 'x', input: z.object({ n: z.number() }), execute: () => { runs += 1; return 'late'; } });
      const cancelled = await pipeline.execute(invocation(slow, 'kc', controller.signal));
      expect(cancelled).toMatchObject({ ok: false, error: { code: 'cancelled' } });
      expect(await store.get('kc')).toBeUndefined();
    });
  }
});
