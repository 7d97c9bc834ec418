import { createMemoryBlobStore, createMemoryJournal } from '../../src/store/index.ts';
import { startSession } from '../../src/loop/index.ts';
import type { AgentDefinition, LoopDependencies, ModelCaller, SessionResult } from '../../src/loop/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { systemClock } from '../../src/util/index.ts';

export function dependenciesFor(model: ModelCaller, overrides: Partial<LoopDependencies> = {}): LoopDependencies {
  return {
    journal: createMemoryJournal(),
    blobs: createMemoryBlobStore(),
    model,
    clock: systemClock,
    price: (usage) => (usage.inputTokens * 3 + usage.outputTokens * 15) / 1_000_000,
    ...overrides,
  };
}

export async function readAll(dependencies: LoopDependencies, sessionId: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  for await (const event of dependencies.journal.read(sessionId)) events.push(event);
  return events;
}

export async function runToEnd(
  agent: AgentDefinition,
  dependencies: LoopDependencies,
  input = 'do the task',
  signal?: AbortSignal,
): Promise<{ result: SessionResult; events: SessionEvent[] }> {
  const session = startSession(agent, dependencies, { input, ...(signal === undefined ? {} : { signal }) });
  const result = await session.result;
  return { result, events: await readAll(dependencies, session.sessionId) };
}
