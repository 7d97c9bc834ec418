import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { childSessionId } from '../../src/loop/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { citationsOf, createResearchAgents } from './agents.ts';
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
      // Every result cited, no citation to a result that does not exist; the children's answers reached the lead as untrusted data.
      expect(citationsOf(result.output ?? '', ends)).toEqual({ cited: ['R1', 'R2', 'R3'], unknown: [] });
      expect(events.filter((event) => event.type === 'tool-result').every((event) => event.type === 'tool-result' && event.provenance === 'subagent')).toBe(true);
      // The lead's usage includes its researchers': 2 of its own responses and 2 per researcher, 1,020 tokens each.
      expect(result.usage.inputTokens + result.usage.outputTokens).toBe(8 * 1_020);
    } finally {
      await keel.close();
    }
  });
});
