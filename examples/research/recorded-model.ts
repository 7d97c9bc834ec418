import { createTaskScriptedModel } from '../../src/testing/index.ts';
import type { ScriptedResponseInput } from '../../src/model/index.ts';
import type { Model } from '../../src/index.ts';
import type { TaskScript } from '../../src/testing/index.ts';

export const question = 'How does an agent runtime survive a crash without repeating side effects?';
export const safetyQuestion = 'How do subagents, budgets and sagas keep a multi-agent run safe?';

const usage = { input_tokens: 900, output_tokens: 120 };
const leadModel = 'claude-sonnet-4-6';
const researcherModel = 'claude-haiku-4-5';

const delegate = (questions: readonly string[]): ScriptedResponseInput => ({
  content: questions.map((text, index) => ({ type: 'tool_use' as const, id: `research_${index + 1}`, name: 'research', input: { question: text } })),
  stop_reason: 'tool_use',
  usage,
  model: leadModel,
});
const answer = (text: string, model: string): ScriptedResponseInput => ({ content: [{ type: 'text', text }], stop_reason: 'end_turn', usage, model });
const use = (name: string, input: Record<string, unknown>, id: string): ScriptedResponseInput => ({ content: [{ type: 'tool_use', id, name, input }], stop_reason: 'tool_use', usage, model: researcherModel });

/** The lead's replies: three sub-questions in one message, then the answer citing the passages its researchers cited. */
const leadScripts: readonly TaskScript[] = [
  {
    whenTaskIncludes: question,
    responses: [
      delegate(['How does an event journal let a crashed run continue?', 'How do idempotency keys stop a repeated call from applying twice?', 'How do session leases keep two processes from running one session?']),
      answer(
        "It writes down every step before and after it acts, so a restarted process folds the journal and continues from the first step without an outcome [doc-journal]. Each side effect carries a key derived from the session, turn and call, and the far end applies a key once, so the repeated call changes nothing twice [doc-idempotency]. A lease makes one process the only writer of a session, and a crashed holder's lease is taken over when it expires [doc-leases].",
        leadModel,
      ),
    ],
  },
  {
    whenTaskIncludes: safetyQuestion,
    responses: [
      delegate(['What do subagents see, and how far do their privileges reach?', 'How do budget guards stop a run that spends too much?', 'How does a saga undo completed steps when a task fails?']),
      answer(
        "Each subagent works in a clean context, its answer is untrusted data for the orchestrator, and its privileges only narrow [doc-subagents]. Token, cost and time budgets bound the run, and a guard stops it with the figures that tripped it [doc-budgets]. When a long task fails or is cancelled, a saga undoes the completed steps with compensating actions, newest first [doc-sagas].",
        leadModel,
      ),
    ],
  },
];

/** The researchers' replies by sub-question: search, sometimes read a passage by id, then a cited answer. */
const researcherScripts: readonly TaskScript[] = [
  ['event journal', 'event journal crashed run', "The journal is append-only and records each step before and after it acts; state is a fold of it, so a crashed run continues from the first step without an outcome [doc-journal]."],
  ['idempotency keys', 'idempotency keys', 'Each side effect carries a key derived from the session, turn and call, and the far end applies a key once, so a repeated call changes nothing twice [doc-idempotency].'],
  ['session leases', 'session leases', "A process takes the session's lease before writing and renews it; a second process is refused, and an expired lease is taken over after a crash [doc-leases]."],
  ['subagents see', 'subagents contexts privileges', "Subagents get clean contexts; the orchestrator treats their answers as untrusted data, and their privileges only narrow [doc-subagents]."],
  ['budget guards', 'budgets guards', 'Token, cost and time budgets bound a run; guards stop it with the figures that tripped them [doc-budgets].'],
].map(([key, query, text]) => ({
  whenTaskIncludes: key ?? '',
  responses: [use('search_corpus', { query: query ?? '' }, 'search_1'), answer(text ?? '', researcherModel)],
}));

/** The saga researcher searches, then reads the passage by id before answering. */
const sagaScript: TaskScript = {
  whenTaskIncludes: 'saga undo',
  responses: [
    use('search_corpus', { query: 'saga undo compensating' }, 'search_1'),
    use('read_source', { id: 'doc-sagas' }, 'read_1'),
    answer('A saga undoes completed steps with compensating actions, newest first, when a long task fails or is cancelled [doc-sagas].', researcherModel),
  ],
};

/** Recorded replies of the lead and of the researchers, as two models (a model per agent, chosen by the session's task). */
export function createRecordedResearchModels(): { lead: Model; researcher: Model } {
  return { lead: createTaskScriptedModel(leadScripts, { modelId: leadModel }), researcher: createTaskScriptedModel([...researcherScripts, sagaScript], { modelId: researcherModel }) };
}

/** The crash answer with a planted regression: its last sentence cites the sagas passage, which no search returned. */
const regressedLeadScript: TaskScript = {
  whenTaskIncludes: question,
  responses: [
    leadScripts[0]?.responses[0] as ScriptedResponseInput,
    answer(
      "It writes down every step before and after it acts, so a restarted process folds the journal and continues from the first step without an outcome [doc-journal]. Each side effect carries a key derived from the session, turn and call, so the repeated call changes nothing twice [doc-idempotency]. Completed steps are undone by compensating actions [doc-sagas].",
      leadModel,
    ),
  ],
};

/**
 * The same replies as one model for a whole tree (the lead's scripts first: a sub-question never contains a question).
 * `regression: true` plants a citation to a source the run never retrieved, for `keel eval compare` to catch.
 */
export function createRecordedResearchModel(options: { readonly regression?: boolean } = {}): Model {
  const lead = options.regression === true ? [regressedLeadScript, ...leadScripts.slice(1)] : leadScripts;
  return createTaskScriptedModel([...lead, ...researcherScripts, sagaScript], { modelId: leadModel });
}
