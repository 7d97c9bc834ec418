import type { Model } from '../../src/index.ts';
import type { ScriptedResponseInput } from '../../src/model/index.ts';
import { createTaskScriptedModel } from '../../src/testing/index.ts';
import type { Review } from './agent.ts';

export const reviewTask = 'Review the pull request "orders: filter by status, totals in order, page helper" before it is merged.';

const usage = { input_tokens: 1_200, output_tokens: 150 };
const leadModel = 'claude-sonnet-4-6';
const reviewerModel = 'claude-haiku-4-5';

const use = (calls: readonly { readonly name: string; readonly input: Record<string, unknown> }[], model: string): ScriptedResponseInput => ({
  content: calls.map((call, index) => ({ type: 'tool_use' as const, id: `${call.name}_${index + 1}`, name: call.name, input: call.input })),
  stop_reason: 'tool_use',
  usage,
  model,
});
const answer = (review: Review, model: string): ScriptedResponseInput => ({ content: [{ type: 'text', text: JSON.stringify(review) }], stop_reason: 'end_turn', usage, model });

/** The comments the recorded reviewers make: the three problems the change plants, each at its line. */
export const recordedComments = {
  security: { file: 'src/orders.mjs', line: 3, severity: 'high', message: "SQL injection: status is pasted into the SQL text (` AND status = '${status}'`); pass it as a parameter (AND status = ?) like the customer." },
  performance: { file: 'src/orders.mjs', line: 12, severity: 'medium', message: 'Quadratic time: orders.filter scans every order inside the loop over the orders; sum the cents in one pass over the orders, as before the change.' },
  correctness: { file: 'src/pagination.mjs', line: 4, severity: 'high', message: 'Off by one: end = start + size - 1 makes slice drop the last item of every page (the test "page returns whole pages and a partial last page" fails); use start + size.' },
} as const satisfies Record<string, Review['comments'][number]>;

/**
 * Recorded replies of the review: the lead fans out to the three reviewers in one message and merges their comments;
 * each reviewer reads the diff, looks closer with its read-only tools (the correctness reviewer runs the tests), and
 * answers with its line comments.
 */
export function createRecordedReviewModel(): Model {
  return createTaskScriptedModel(
    [
      {
        whenTaskIncludes: reviewTask,
        responses: [
          use([{ name: 'review_security', input: {} }, { name: 'review_performance', input: {} }, { name: 'review_correctness', input: {} }], leadModel),
          answer({ comments: [recordedComments.security, recordedComments.performance, recordedComments.correctness] }, leadModel),
        ],
      },
      {
        whenTaskIncludes: 'for security problems',
        responses: [use([{ name: 'show_diff', input: {} }], reviewerModel), use([{ name: 'read_file', input: { path: 'src/orders.mjs' } }], reviewerModel), answer({ comments: [recordedComments.security] }, reviewerModel)],
      },
      {
        whenTaskIncludes: 'for performance problems',
        responses: [use([{ name: 'show_diff', input: {} }], reviewerModel), use([{ name: 'grep', input: { text: 'orders.filter' } }], reviewerModel), answer({ comments: [recordedComments.performance] }, reviewerModel)],
      },
      {
        whenTaskIncludes: 'for correctness problems',
        responses: [
          use([{ name: 'show_diff', input: {} }, { name: 'run_tests', input: {} }], reviewerModel),
          use([{ name: 'read_file', input: { path: 'src/pagination.mjs' } }], reviewerModel),
          answer({ comments: [recordedComments.correctness] }, reviewerModel),
        ],
      },
    ],
    { modelId: leadModel },
  );
}
