// `keel eval examples/research/eval.ts`: the research suite. Offline it plays recorded replies; live, set KEEL_MODEL
// (e.g. KEEL_MODEL=anthropic:claude-sonnet-4-6) or pass --model, and a real model answers the same questions.
import { defineEvalSuite, maxToolCalls, outputMatches, toolCalled } from '../../src/index.ts';
import lead from './agent.ts';
import { citesRetrievedSources } from './citations.ts';
import { createRecordedResearchModel, question, safetyQuestion } from './recorded-model.ts';

export default defineEvalSuite({
  name: 'research',
  agent: lead,
  ...(process.env.KEEL_MODEL === undefined ? { model: createRecordedResearchModel() } : {}),
  concurrency: 2,
  budget: { tokens: 150_000, timeMs: 300_000 },
  thresholds: { passRate: 1 },
  cases: [
    {
      id: 'crash-safety',
      task: question,
      checks: [
        toolCalled('research', { times: 3 }),
        toolCalled('search_corpus'),
        maxToolCalls(12),
        citesRetrievedSources(),
        outputMatches(/journal/i, { name: 'covers-the-journal' }),
        outputMatches(/lease/i, { name: 'covers-leases' }),
      ],
    },
    {
      id: 'multi-agent-safety',
      task: safetyQuestion,
      checks: [toolCalled('research', { times: 3 }), toolCalled('read_source'), maxToolCalls(12), citesRetrievedSources(), outputMatches(/saga/i, { name: 'covers-sagas' })],
    },
  ],
});
