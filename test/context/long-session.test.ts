import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, startSession, resumeSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { createTokenCounter } from '../../src/context/index.ts';
import type { ExplainPlan } from '../../src/context/index.ts';
import type { ModelRequest } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const window = 16_000;
const counter = createTokenCounter({ provider: 'openai', modelId: 'gpt-4o' });

/** A 200-turn session whose tools return about 2,000 tokens each, against a model with a 16k window that refuses anything bigger. */
function longSession(startAt = 0) {
  const fetchPage = defineTool({
    name: 'fetch_page',
    description: 'Fetch a page of the log',
    input: z.object({ page: z.number() }),
    risk: 'read',
    execute: ({ page }) => Array.from({ length: 160 }, (_unused, line) => `page ${page} line ${line}: status=200 latency_ms=${(page * 7 + line) % 97} path=/api/v1/orders/${page}-${line}`).join('\n'),
  });
  const agent = defineAgent({
    name: 'reader',
    instructions: 'Read the log page by page and report anomalies.',
    tools: [fetchPage],
    limits: { maxTurns: 250, maxIdenticalToolCalls: 5 },
    maxOutputTokensPerCall: 1024,
    context: { window: { contextWindow: window, maxOutputTokens: 4096 } },
  });
  const oversized: number[] = [];
  let calls = startAt;
  // Counted here, not from the request: the planner drops and summarizes old turns, so the request no longer shows them all.
  const model = scriptedCaller((request: ModelRequest) => {
    // The provider's check: a request over the window is a 400 in real life.
    if (request.system === undefined || request.system.startsWith('Summarize')) return { content: [text('Summary: pages read so far were normal.')] };
    const index = calls;
    calls += 1;
    const tokens = counter.count(JSON.stringify(request));
    if (tokens + 1024 > window) oversized.push(index);
    return index < 199 ? { content: [toolUse(`call_${index}`, 'fetch_page', { page: index })] } : { content: [text('No anomalies in 199 pages.')] };
  }, 'gpt-4o');
  return { agent, model, oversized };
}

describe('a 200-turn session in a 16k window', () => {
  it('never sends a request over the window, and every turn\u2019s plan accounts for every item', async () => {
    const { agent, model, oversized } = longSession();
    const dependencies = dependenciesFor(model);
    const result = await startSession(agent, dependencies, { input: 'Check the log.', sessionId: 'ses_long' }).result;
    expect(result.status, JSON.stringify(result.error)).toBe('completed');
    expect(result.turns).toBe(200);
    expect(oversized).toEqual([]);
    const events = await readAll(dependencies, 'ses_long');
    expect(validateJournal(events).problems).toEqual([]);
    const assembles = events.filter((event) => event.type === 'context-assemble');
    expect(assembles).toHaveLength(200);
    for (const assemble of assembles) {
      if (assemble.type !== 'context-assemble' || assemble.planHash === undefined) throw new Error('no plan');
      expect(assemble.tokens.total).toBeLessThanOrEqual(window);
      expect(assemble.utilization).toBeLessThanOrEqual(1);
      const plan = JSON.parse((await dependencies.blobs.get(assemble.planHash)) ?? 'null') as ExplainPlan;
      const rows = plan.segments.flatMap((segment) => segment.items);
      expect(rows.every((row) => typeof row.rule === 'string' && row.rule !== '')).toBe(true);
      // Every message of the conversation at that turn is accounted for by exactly one row (kept, summarized, stubbed or dropped).
      const messages = 1 + 2 * (plan.turn - 1);
      const covered = new Array<number>(messages).fill(0);
      for (const row of rows) {
        if (row.range === undefined || row.kind === 'summary') continue;
        for (let index = row.range[0]; index < row.range[1]; index += 1) covered[index] = (covered[index] ?? 0) + 1;
      }
      expect(covered.every((count) => count === 1), `turn ${plan.turn}`).toBe(true);
    }
  }, 120_000);

  it('resumed half way, it reuses the journaled summaries instead of making them again', async () => {
    const first = longSession();
    const reference = dependenciesFor(first.model);
    await startSession(first.agent, reference, { input: 'Check the log.', sessionId: 'ses_half' }).result;
    const full = await readAll(reference, 'ses_half');
    const summaries = full.filter((event) => event.type === 'context-summary');
    expect(summaries.length).toBeGreaterThan(0);
    const cut = full.indexOf(summaries[Math.floor(summaries.length / 2)] as (typeof full)[number]) + 3;
    const journal = createMemoryJournal();
    await journal.append('ses_half', full.slice(0, cut), 0);
    const second = longSession(full.slice(0, cut).filter((event) => event.type === 'model-response').length);
    const dependencies = dependenciesFor(second.model, { journal });
    const result = await resumeSession(second.agent, dependencies, 'ses_half').result;
    expect(result.status).toBe('completed');
    expect(second.oversized).toEqual([]);
    const events = await readAll(dependencies, 'ses_half');
    const ids = events.flatMap((event) => (event.type === 'context-summary' ? [event.summaryId] : []));
    expect(new Set(ids).size).toBe(ids.length);
    expect(validateJournal(events).problems).toEqual([]);
  }, 120_000);
});
