import type { ScoredMemory } from './retrieval-score.ts';

/**
 * Recalled memories as text for the context's memory segment (automatic retrieval each turn): one line per memory,
 * best first, with its kind and id so the model can tell reflections from observations and cite them.
 */
export function renderMemorySegment(memories: readonly ScoredMemory[]): string {
  if (memories.length === 0) return '';
  const lines = memories.map(({ record }) => `- [${record.kind} ${record.id}, importance ${record.importance}] ${record.text.replace(/\s+/g, ' ').trim()}`);
  return `Relevant memories:\n${lines.join('\n')}`;
}
