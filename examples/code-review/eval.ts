// `keel eval examples/code-review/eval.ts`: the code review suite. Offline it plays recorded replies (the tools, the
// sandboxed test run and the child sessions are real); live, set KEEL_MODEL (e.g. KEEL_MODEL=anthropic:claude-sonnet-4-6)
// or pass --model, and a real model reviews the same change.
import { defineEvalSuite, maxToolCalls, outputMatchesSchema, toolCalled } from '../../src/index.ts';
import lead, { reviewSchema } from './agent.ts';
import { createRecordedReviewModel, reviewTask } from './recorded-model.ts';
import { everyReviewerRan, findsPlantedProblem, readOnlyReview } from './review-checks.ts';

export default defineEvalSuite({
  name: 'code-review',
  agent: lead,
  ...(process.env.KEEL_MODEL === undefined ? { model: createRecordedReviewModel() } : {}),
  budget: { tokens: 250_000, timeMs: 300_000 },
  thresholds: { passRate: 1 },
  cases: [
    {
      id: 'planted-problems',
      task: reviewTask,
      checks: [
        outputMatchesSchema(reviewSchema, { name: 'line-comments' }),
        findsPlantedProblem({ name: 'finds-sql-injection', file: 'src/orders.mjs', line: 3, minimumSeverity: 'high' }),
        findsPlantedProblem({ name: 'finds-quadratic-loop', file: 'src/orders.mjs', line: 12, minimumSeverity: 'medium' }),
        findsPlantedProblem({ name: 'finds-off-by-one', file: 'src/pagination.mjs', line: 4, minimumSeverity: 'medium' }),
        everyReviewerRan(['security-reviewer', 'performance-reviewer', 'correctness-reviewer']),
        toolCalled('run_tests'),
        readOnlyReview(lead),
        maxToolCalls(30),
      ],
    },
  ],
});
