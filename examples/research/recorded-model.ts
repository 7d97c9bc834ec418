import { createTaskScriptedModel } from '../../src/model/task-scripted-model.ts';
import type { Model } from '../../src/spec/model.ts';

export const question = 'How does an agent runtime survive a crash without repeating side effects?';
const sub = [
  'How does an event journal let a crashed run continue?',
  'How do idempotency keys stop a repeated call from applying twice?',
  'How do session leases keep two processes from running one session?',
];
const usage = { input_tokens: 900, output_tokens: 120 };

/** Recorded replies of the lead and the three researchers, chosen by each session's task. */
export function createRecordedResearchModels(): { lead: Model; researcher: Model } {
  const lead = createTaskScriptedModel([
    {
      whenTaskIncludes: question,
      responses: [
        { content: sub.map((text, index) => ({ type: 'tool_use' as const, id: `research_${index + 1}`, name: 'research', input: { question: text } })), stop_reason: 'tool_use', usage, model: 'claude-sonnet-4-6' },
        {
          content: [
            {
              type: 'text',
              text: 'It writes down every step before and after it acts, so a restarted process folds the journal and continues from the first step without an outcome [R1]. Each side effect carries a key derived from the session, turn and call, and the far end applies a key once, so the repeated call changes nothing twice [R2]. A lease makes one process the only writer of a session, and a crashed holder\'s lease is taken over when it expires [R3].',
            },
          ],
          stop_reason: 'end_turn',
          usage,
          model: 'claude-sonnet-4-6',
        },
      ],
    },
  ]);
  const researcher = createTaskScriptedModel(
    [
      ['journal', 'event journal', 'The journal is append-only and records each step before and after it acts; state is a fold of it, so a crashed run continues from the first step without an outcome [doc-journal].'],
      ['idempotency', 'idempotency keys', 'Each side effect carries a key derived from the session, turn and call, and the far end applies a key once, so a repeated call changes nothing twice [doc-idempotency].'],
      ['leases', 'session leases', 'A process takes the session\'s lease before writing and renews it; a second process is refused, and an expired lease is taken over after a crash [doc-leases].'],
    ].map(([key, query, answer]) => ({
      whenTaskIncludes: key ?? '',
      responses: [
        { content: [{ type: 'tool_use' as const, id: 'search_1', name: 'search_corpus', input: { query: query ?? '' } }], stop_reason: 'tool_use' as const, usage, model: 'claude-haiku-4-5' },
        { content: [{ type: 'text' as const, text: answer ?? '' }], stop_reason: 'end_turn' as const, usage, model: 'claude-haiku-4-5' },
      ],
    })),
  );
  return { lead, researcher };
}
