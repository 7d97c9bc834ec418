// The agent every adapter runs, as the mock server (bench/workload-mock.ts) expects it.

export const systemPrompt = 'You are a helpful agent.';
export const userTask = 'Look up the keys and answer.';

/**
 * The task of the n-th session of a process. The number makes every session's requests distinct, as real
 * sessions are: otherwise Keel's content-addressed request blobs would be stored once and then deduplicated for
 * every later session, and the benchmark would miss the cost of writing them. The mock ignores the task.
 */
export function taskFor(session: number): string {
  return `${userTask} (session ${session})`;
}
export const modelId = 'mock-model';
export const apiKey = 'sk-mock';
/** Model calls per session: nine tool calls, then the final answer. */
export const turnsPerSession = 10;
export const maxTurns = 50;
export const toolResultLength = 200;

/** The tool's output: 200 characters, so the mock can tell a complete tool result from a lost or cut one. */
export function lookupValue(key: string): string {
  return `value:${key}:`.padEnd(toolResultLength, 'x');
}

/** The `lookup` tool in Chat Completions form, for the bare loops. */
export const lookupToolParam = {
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Look up a key',
    parameters: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'], additionalProperties: false },
  },
} as const;

/** Throws unless a session ended the way the workload ends: `turns` model calls and a final text with "42". */
export function checkOutcome(adapter: string, turns: number, finalText: string | null): void {
  if (turns !== turnsPerSession) throw new Error(`${adapter}: the session took ${turns} turns, expected ${turnsPerSession}.`);
  if (finalText === null || !finalText.includes('42')) throw new Error(`${adapter}: the final text ${JSON.stringify(finalText)} does not contain "42".`);
}
