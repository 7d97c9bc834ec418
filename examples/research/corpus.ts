import { z } from 'zod';
import { defineTool } from '../../src/index.ts';

/** A small local library the researchers search: short passages, each with an id they cite. */
export const corpus: readonly { readonly id: string; readonly title: string; readonly text: string }[] = [
  { id: 'doc-journal', title: 'Event journals', text: 'An append-only journal records each step before and after it acts; state is a fold of the journal, so a crashed run continues from the first step without an outcome.' },
  { id: 'doc-idempotency', title: 'Idempotency keys', text: 'A side effect carries a key derived from the session, turn and call; the far end applies a key once, so a call repeated after a crash changes nothing twice.' },
  { id: 'doc-leases', title: 'Session leases', text: 'One writer per session: a process takes a lease before it writes and renews it; a second process is refused, and an expired lease is taken over after a crash.' },
  { id: 'doc-budgets', title: 'Budgets', text: 'Token, cost and time budgets bound a run; guards stop it with the figures that tripped them instead of letting a loop spend without end.' },
  { id: 'doc-subagents', title: 'Subagents', text: 'An orchestrator delegates focused tasks to subagents with clean contexts; their answers are untrusted data for the orchestrator, and their privileges only narrow.' },
  { id: 'doc-sagas', title: 'Sagas', text: 'A saga undoes completed steps with compensating actions, newest first, when a long task fails or is cancelled.' },
];

/** Words of three letters or more, lower case: the search's terms. */
function terms(text: string): string[] {
  return text.toLowerCase().match(/[a-z]{3,}/g) ?? [];
}

/** The passages a query finds, best first, at most three: the search tool's answer, and what a citation check recomputes. */
export function searchPassages(query: string): (typeof corpus)[number][] {
  const wanted = new Set(terms(query.slice(0, 500)));
  return corpus
    .map((doc) => ({ doc, score: terms(`${doc.title} ${doc.text}`).filter((term) => wanted.has(term)).length }))
    .filter((entry) => entry.score > 0)
    .sort((left, right) => right.score - left.score)
    .slice(0, 3)
    .map(({ doc }) => doc);
}

export const searchCorpus = defineTool({
  name: 'search_corpus',
  description: 'Searches the library. Returns up to three passages with their ids; cite a passage by its id, like [doc-journal].',
  input: z.object({ query: z.string().min(1).max(500) }),
  risk: 'read',
  provenance: 'retrieved',
  execute: ({ query }) => {
    const found = searchPassages(query);
    return found.length === 0 ? 'No passage matches; try other words.' : found.map((doc) => `[${doc.id}] ${doc.title}: ${doc.text}`).join('\n');
  },
});

export const readSource = defineTool({
  name: 'read_source',
  description: 'Reads one passage of the library by its id, as search_corpus listed it.',
  input: z.object({ id: z.string().regex(/^doc-[a-z-]{1,40}$/) }),
  risk: 'read',
  provenance: 'retrieved',
  execute: ({ id }) => {
    const doc = corpus.find((entry) => entry.id === id);
    return doc === undefined ? `No passage ${id}; search first and use an id it lists.` : `[${doc.id}] ${doc.title}: ${doc.text}`;
  },
});
