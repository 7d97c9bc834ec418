import { KeelError } from '../errors/index.ts';
import type { MemoryRecord, MemoryScope } from './memory-types.ts';
import { checkImportance } from './memory-store.ts';
import type { MemoryStore, SequencedMemory } from './memory-store.ts';

/** One higher-level insight proposed by `reflect`, citing the memories it was drawn from. */
export interface Insight {
  readonly text: string;
  readonly sourceIds: readonly string[];
  /** 1–10; otherwise the store rates it like any memory. */
  readonly importance?: number;
}

export interface ReflectorOptions {
  readonly store: MemoryStore;
  /** Synthesizes insights from recent memories: a model call in production (see `reflectionPrompt`). */
  readonly reflect: (memories: readonly MemoryRecord[], signal?: AbortSignal) => Promise<readonly Insight[]>;
  /** Reflect when the importance of memories since the last reflection sums to this. Defaults to 150 (Park et al.). */
  readonly threshold?: number;
  /** The most recent memories handed to `reflect`. Defaults to 100 (Park et al.). */
  readonly maxMemories?: number;
}

export interface ReflectionOutcome {
  readonly reflected: boolean;
  /** Importance accumulated since the last reflection, before this one. */
  readonly accumulated: number;
  readonly reflections: readonly MemoryRecord[];
  /** Citations that named no memory of this scope, and insights dropped for citing none that exist. */
  readonly invalidCitations: readonly string[];
  readonly droppedInsights: readonly Insight[];
  /**
   * Another reflector (another process, say) reflected on these memories first, between this one's reading them and
   * storing its insights: this one stored nothing, and its insights are in `droppedInsights`.
   */
  readonly superseded: boolean;
}

export interface Reflector {
  /** The importance of memories (other than reflections) written to the scope since its last reflection. */
  accumulated(scope: MemoryScope): Promise<number>;
  /** Reflects if the accumulated importance has reached the threshold (or `force`), storing each insight as a `reflection` memory. */
  maybeReflect(scope: MemoryScope, options?: { readonly force?: boolean; readonly signal?: AbortSignal }): Promise<ReflectionOutcome>;
}

/**
 * Reflection as in Park et al.: when enough has happened, ask for higher-level insights about recent memories and keep
 * each as a memory of its own, citing its sources. Citations are checked against the store, since a model can cite ids
 * that do not exist; invalid ones are dropped, and an insight left with no valid source is not stored.
 */
export function createReflector(options: ReflectorOptions): Reflector {
  const { store } = options;
  const threshold = options.threshold ?? 150;
  const maxMemories = options.maxMemories ?? 100;
  if (!(threshold > 0)) throw new KeelError('invalid-config', `threshold must be positive, got ${threshold}.`);
  async function pending(scope: MemoryScope, after: number): Promise<SequencedMemory[]> {
    const memories = await store.list(scope, { afterSequence: after });
    return memories.filter((memory) => memory.kind !== 'reflection');
  }

  return {
    async accumulated(scope: MemoryScope): Promise<number> {
      return (await pending(scope, await store.reflectedThrough(scope))).reduce((sum, memory) => sum + memory.importance, 0);
    },
    async maybeReflect(scope, reflectOptions = {}): Promise<ReflectionOutcome> {
      const from = await store.reflectedThrough(scope);
      const memories = await pending(scope, from);
      const accumulated = memories.reduce((sum, memory) => sum + memory.importance, 0);
      const nothing = { reflected: false, accumulated, reflections: [], invalidCitations: [], droppedInsights: [], superseded: false };
      if (memories.length === 0 || (accumulated < threshold && reflectOptions.force !== true)) return nothing;
      const insights = await options.reflect(memories.slice(-maxMemories), reflectOptions.signal);
      const lastSequence = (memories.at(-1) as SequencedMemory).sequence;
      const { existing, invalidCitations } = await checkCitations(store, scope, insights);
      const planned = planInsights(insights, existing);
      // The mark moves only if no other reflector moved it since `from` was read: one of two racing reflectors keeps
      // its insights, the other stores nothing. A model call may be spent twice, a memory is never reflected twice.
      if (!(await store.markReflected(scope, lastSequence, { expected: from }))) return { ...nothing, droppedInsights: insights, superseded: true };
      try {
        const reflections = await storeInsights({ store, scope, writes: planned.writes, ...(reflectOptions.signal === undefined ? {} : { signal: reflectOptions.signal }) });
        return { reflected: true, accumulated, reflections, invalidCitations, droppedInsights: planned.dropped, superseded: false };
      } catch (error) {
        // Hand the memories back to the next reflection, unless another reflector has moved on since.
        await store.markReflected(scope, from, { expected: lastSequence }).catch(() => false);
        throw error;
      }
    },
  };
}

async function checkCitations(store: MemoryStore, scope: MemoryScope, insights: readonly Insight[]): Promise<{ existing: Set<string>; invalidCitations: string[] }> {
  const cited = [...new Set(insights.flatMap((insight) => insight.sourceIds))];
  const existing = new Set(
    (await store.get(cited))
      .filter((memory) => memory.scope.agent === scope.agent && (scope.sessionId === undefined || memory.scope.sessionId === scope.sessionId))
      .map((memory) => memory.id),
  );
  return { existing, invalidCitations: cited.filter((id) => !existing.has(id)) };
}

interface PlannedInsights {
  readonly writes: readonly { readonly insight: Insight; readonly sources: readonly string[] }[];
  readonly dropped: Insight[];
}

/** Keeps each insight's valid sources, drops insights left with none; checked before anything is written. */
function planInsights(insights: readonly Insight[], existing: ReadonlySet<string>): PlannedInsights {
  const writes: { insight: Insight; sources: string[] }[] = [];
  const dropped: Insight[] = [];
  for (const insight of insights) {
    const sources = [...new Set(insight.sourceIds)].filter((id) => existing.has(id));
    if (sources.length === 0 || typeof insight.text !== 'string' || insight.text.trim() === '') {
      dropped.push(insight);
      continue;
    }
    if (insight.importance !== undefined) checkImportance(insight.importance, 'An insight’s importance');
    writes.push({ insight, sources });
  }
  return { writes, dropped };
}

interface InsightWrite {
  readonly store: MemoryStore;
  readonly scope: MemoryScope;
  readonly writes: PlannedInsights['writes'];
  readonly signal?: AbortSignal;
}

async function storeInsights({ store, scope, writes, signal }: InsightWrite): Promise<MemoryRecord[]> {
  const reflections: MemoryRecord[] = [];
  for (const { insight, sources } of writes) {
    reflections.push(
      await store.remember({
        scope,
        text: insight.text,
        kind: 'reflection',
        sources,
        ...(insight.importance === undefined ? {} : { importance: insight.importance }),
        ...(signal === undefined ? {} : { signal }),
      }),
    );
  }
  return reflections;
}

/** A prompt for `reflect` in the spirit of Park et al.: insights that cite memory ids, answered as JSON. */
export function reflectionPrompt(memories: readonly MemoryRecord[]): string {
  const lines = memories.map((memory) => `[${memory.id}] ${memory.text}`).join('\n');
  return (
    `${lines}\n\nWhat 5 high-level insights can you infer from the statements above? ` +
    'Answer with JSON only: [{"text": "<insight>", "sourceIds": ["<id of a statement above>", ...]}].'
  );
}

/**
 * Reads the insights of a reflection answer (the JSON array `reflectionPrompt` asks for, a Markdown fence around it
 * tolerated). A reply that is not such an array is an error a person can act on, not an empty reflection.
 */
export function parseInsights(answer: string): Insight[] {
  const start = answer.indexOf('[');
  const end = answer.lastIndexOf(']');
  let parsed: unknown;
  try {
    parsed = start >= 0 && end > start ? JSON.parse(answer.slice(start, end + 1)) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed)) {
    throw new KeelError('model-malformed-response', `A reflection must answer with a JSON array of {"text", "sourceIds"}; it answered ${JSON.stringify(answer.slice(0, 200))}.`);
  }
  return parsed.flatMap((entry: unknown): Insight[] => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { text, sourceIds, importance } = entry as { text?: unknown; sourceIds?: unknown; importance?: unknown };
    if (typeof text !== 'string' || !Array.isArray(sourceIds)) return [];
    const ids = sourceIds.filter((id): id is string => typeof id === 'string');
    const rated = typeof importance === 'number' && Number.isInteger(importance) && importance >= 1 && importance <= 10 ? { importance } : {};
    return [{ text, sourceIds: ids, ...rated }];
  });
}
