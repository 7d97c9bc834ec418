import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { childSessionId, createKeel } from '../../src/index.ts';
import type { EvalCheckContext, TrajectoryCall } from '../../src/index.ts';
import { createResearchAgents } from './agents.ts';
import { citedSourceIds, citesRetrievedSources } from './citations.ts';
import { createRecordedResearchModels, question } from './recorded-model.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-research-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('research orchestrator example', () => {
  it('splits the question into three subagents with clean contexts and cites each result', async () => {
    const recorded = createRecordedResearchModels();
    const keel = createKeel({ database: join(scratch, 'keel.db'), env: {}, models: { lead: recorded.lead, researcher: recorded.researcher } });
    try {
      const { lead } = createResearchAgents({ lead: 'lead', researcher: 'researcher' });
      const result = await keel.run(lead, { task: question, budget: { tokens: 150_000 } }).result;
      expect(result.status).toBe('completed');
      const events = await keel.events(result.sessionId);
      const ends = events.flatMap((event) => (event.type === 'child-end' ? [event] : []));
      expect(ends).toHaveLength(3);
      expect(ends.map((end) => end.childSessionId)).toEqual([1, 2, 3].map((index) => childSessionId(result.sessionId, `research_${index}`)));
      for (const end of ends) {
        expect(end.status).toBe('completed');
        const child = await keel.events(end.childSessionId);
        // A clean context: the child's whole input is its sub-question, nothing of the lead's conversation.
        expect(child[0]).toMatchObject({ type: 'session-start', parentSessionId: result.sessionId, input: expect.stringMatching(/^How do/) });
        expect(child[0]?.type === 'session-start' ? child[0].input : '').not.toContain(question);
        expect(end.output).toMatch(/\[doc-[a-z]+\]/);
        expect(child[0]).toMatchObject({ budget: { tokens: 40_000, costUsd: null } });
      }
      // The answer cites the passages the researchers cited; the children's answers reached the lead as untrusted data.
      expect(citedSourceIds(result.output ?? '')).toEqual(['doc-journal', 'doc-idempotency', 'doc-leases']);
      expect(events.filter((event) => event.type === 'tool-result').every((event) => event.type === 'tool-result' && event.provenance === 'subagent')).toBe(true);
      // The lead's usage includes its researchers': 2 of its own responses and 2 per researcher, 1,020 tokens each.
      expect(result.usage.inputTokens + result.usage.outputTokens).toBe(8 * 1_020);
    } finally {
      await keel.close();
    }
  });
});

/** A check context over a hand-made trajectory: the answer and the tool calls a run would have journaled. */
function contextOf(output: string, calls: readonly Pick<TrajectoryCall, 'tool' | 'input'>[]): EvalCheckContext {
  const toolCalls = calls.map((call, index) => ({ sessionId: 'hand-made', turn: 1, callId: `call_${index}`, decision: 'allow' as const, approved: null, outcome: 'result' as const, executed: true, ...call }));
  return { output, toolCalls, caseId: 'hand-made', repetition: 1, task: question, sessionId: 'hand-made', status: 'completed', events: [], usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: null, latencyMs: 0, turns: 2, reference: null } as unknown as EvalCheckContext;
}

describe('the citation check', () => {
  const check = citesRetrievedSources();
  const searched = [{ tool: 'search_corpus', input: { query: 'event journal crashed run' } }];

  it('passes an answer whose every sentence cites a passage the run retrieved', async () => {
    const outcome = await check.evaluate(contextOf('A crashed run continues from the journal [doc-journal].', searched));
    expect(outcome).toMatchObject({ passed: true });
  });

  it('fails a planted citation to a source never retrieved, and names it', async () => {
    // The search for the journal never returned the sagas passage: citing it is a citation from nowhere.
    const outcome = await check.evaluate(contextOf('A crashed run continues from the journal [doc-journal]. Failed steps are undone [doc-sagas].', searched));
    expect(outcome.passed).toBe(false);
    expect(outcome.detail).toContain('[doc-sagas], never retrieved');
    // An invented id fails the same way; a search or read that did not run retrieves nothing.
    expect((await check.evaluate(contextOf('Leases stop it [doc-made-up].', searched))).passed).toBe(false);
    const unrun = [{ tool: 'read_source', input: { id: 'doc-sagas' } }].map((call) => ({ ...call }));
    const context = contextOf('Sagas undo steps [doc-sagas].', unrun);
    expect((await check.evaluate({ ...context, toolCalls: context.toolCalls.map((call) => ({ ...call, executed: false, outcome: null })) })).passed).toBe(false);
    expect((await check.evaluate(contextOf('Sagas undo steps [doc-sagas].', unrun))).passed).toBe(true);
  });

  it('fails an answer with a claim that cites nothing, or no citation at all', async () => {
    expect(await check.evaluate(contextOf('A crashed run continues from the journal [doc-journal]. It never repeats a refund.', searched))).toMatchObject({ passed: false, detail: expect.stringContaining('It never repeats a refund.') });
    expect(await check.evaluate(contextOf('A crashed run continues.', searched))).toMatchObject({ passed: false, detail: 'The answer cites no source.' });
  });
});

describe('research eval suite', () => {
  it('passes offline through keel eval --json, every answer citing only retrieved sources', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['eval', join(import.meta.dirname, 'eval.ts'), '--json', '--db', join(scratch, 'eval.db')], { out: (line) => out.push(line), err: (line) => err.push(line), env: {}, cwd: scratch });
    expect(err.join('\n')).not.toMatch(/error/i);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1) ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({ suite: 'research', cases: 2, passed: 2, errored: 0, thresholdMet: true });
    expect(summary.checks).toMatchObject({ 'cites-retrieved-sources': { passed: 2, total: 2 }, 'called:read_source': { passed: 1, total: 1 } });
  });
});
