import type { Clock } from '../../src/spec/clock.ts';
import type { ModelRequest, ModelStreamPart } from '../../src/spec/model.ts';
import type { Model } from '../../src/spec/model.ts';

/** A clock whose sleeps return at once (unless aborted) and are recorded, so backoff can be asserted without waiting. */
export function recordingClock(): { clock: Clock; sleeps: number[] } {
  const sleeps: number[] = [];
  let now = 0;
  const clock: Clock = {
    now: () => 1_700_000_000_000 + now,
    monotonic: () => now,
    sleep: async (milliseconds, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(milliseconds);
      now += milliseconds;
    },
  };
  return { clock, sleeps };
}

export const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather for a city',
  inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
} as const;

/** A request that exercises every content block kind on the way out. */
export const roundTripRequest: ModelRequest = {
  system: 'You are a weather assistant.',
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'sig-abc' },
        { type: 'thinking', thinking: 'unsigned, from elsewhere' },
        { type: 'text', text: "I'll check both." },
        { type: 'text', text: '' },
        { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {}, malformedInput: '{"city": "Os' },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', toolUseId: 'call_1', content: '15°C, light rain', isError: false },
        { type: 'tool_result', toolUseId: 'call_2', content: 'invalid JSON arguments', isError: true },
      ],
    },
  ],
  tools: [weatherTool],
  maxOutputTokens: 512,
  temperature: 0.2,
  stopSequences: ['END'],
  toolChoice: 'any',
};

export const simpleRequest: ModelRequest = {
  system: 'Be brief.',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
  tools: [],
  maxOutputTokens: 256,
};

export async function collectParts(model: Pick<Model, 'stream'>, request: ModelRequest, signal: AbortSignal = new AbortController().signal): Promise<ModelStreamPart[]> {
  const parts: ModelStreamPart[] = [];
  for await (const part of model.stream(request, signal)) parts.push(part);
  return parts;
}

/** The rejection of a promise, which must reject. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

export function finishOf(parts: readonly ModelStreamPart[]): Extract<ModelStreamPart, { type: 'finish' }> {
  const last = parts.at(-1);
  if (last?.type !== 'finish') throw new Error(`the stream did not end with a finish part: ${JSON.stringify(last)}`);
  return last;
}
