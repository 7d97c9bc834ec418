import type { EvalCheck, TrajectoryCall } from '../../src/index.ts';
import { corpus, searchPassages } from './corpus.ts';

/** Longest answer a check reads: a runaway answer is judged on its first 100,000 characters. */
const maxAnswerCharacters = 100_000;
const citationPattern = /\[(doc-[a-z-]{1,40})\]/g;

/** The source ids an answer cites, like `[doc-journal]`, each once, in order of first use. */
export function citedSourceIds(answer: string): string[] {
  return [...new Set([...answer.slice(0, maxAnswerCharacters).matchAll(citationPattern)].map((match) => match[1] ?? ''))];
}

/**
 * The sources a run retrieved: every passage a search that ran returned (the search is deterministic over the
 * shipped corpus, so the check recomputes it from the query) and every passage read by id, across the whole tree.
 */
export function retrievedSourceIds(toolCalls: readonly TrajectoryCall[]): Set<string> {
  const retrieved = new Set<string>();
  for (const call of toolCalls) {
    if (!(call.executed && call.outcome === 'result')) continue;
    const input = (call.input ?? {}) as { readonly query?: unknown; readonly id?: unknown };
    if (call.tool === 'search_corpus' && typeof input.query === 'string') for (const doc of searchPassages(input.query)) retrieved.add(doc.id);
    if (call.tool === 'read_source' && typeof input.id === 'string' && corpus.some((doc) => doc.id === input.id)) retrieved.add(input.id);
  }
  return retrieved;
}

/** Sentences of the answer that cite nothing: claims without a source. */
export function uncitedSentences(answer: string): string[] {
  return answer
    .slice(0, maxAnswerCharacters)
    .split(/(?<=[.!?])\s+/)
    .map((sentence) => sentence.trim())
    .filter((sentence) => sentence.length > 0 && sentence.match(citationPattern) === null);
}

/**
 * The research suite's citation check: the answer cites at least one source, every sentence cites one, and every
 * cited id is a passage the run retrieved. A citation to a source never retrieved (invented, or remembered from
 * training) fails the case and is named in the detail.
 */
export function citesRetrievedSources(): EvalCheck {
  return {
    name: 'cites-retrieved-sources',
    kind: 'trajectory',
    evaluate: ({ output, toolCalls }) => {
      const answer = output ?? '';
      const cited = citedSourceIds(answer);
      const retrieved = retrievedSourceIds(toolCalls);
      const neverRetrieved = cited.filter((id) => !retrieved.has(id));
      const uncited = uncitedSentences(answer);
      if (cited.length === 0) return { passed: false, detail: 'The answer cites no source.' };
      if (neverRetrieved.length > 0) {
        return { passed: false, detail: `Cites ${neverRetrieved.map((id) => `[${id}]`).join(', ')}, never retrieved in this run (retrieved: ${[...retrieved].join(', ') || 'nothing'}).` };
      }
      if (uncited.length > 0) return { passed: false, detail: `${uncited.length} sentence${uncited.length === 1 ? '' : 's'} cite${uncited.length === 1 ? 's' : ''} no source, first: "${uncited[0]?.slice(0, 120)}".` };
      return { passed: true, detail: `Every sentence cites a source; all ${cited.length} cited sources (${cited.join(', ')}) were retrieved.` };
    },
  };
}
