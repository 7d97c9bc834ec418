import type { ModelCaller } from '../../src/loop/index.ts';
import type { ContentBlock, ModelRequest, ModelResponse, StopReason, Usage } from '../../src/spec/index.ts';

export interface ScriptedTurn {
  readonly content: readonly ContentBlock[];
  readonly stopReason?: StopReason;
  readonly usage?: Partial<Usage>;
  readonly delayMs?: number;
  readonly error?: Error;
}

/** A test double of the gateway: answers from a script by turn index and records every request. */
export function scriptedCaller(script: readonly ScriptedTurn[] | ((request: ModelRequest, index: number) => ScriptedTurn), modelId = 'test-model'): ModelCaller & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    provider: 'test',
    modelId,
    requests,
    async call(request, options) {
      requests.push(structuredClone(request) as ModelRequest);
      const index = request.messages.filter((message) => message.role === 'assistant').length;
      const turn = typeof script === 'function' ? script(request, index) : script[index];
      if (turn === undefined) throw new Error(`The script has no response ${index + 1}.`);
      if (turn.delayMs !== undefined) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(resolve, turn.delayMs);
          options.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(options.signal.reason);
          }, { once: true });
        });
      }
      if (turn.error !== undefined) throw turn.error;
      const hasTools = turn.content.some((block) => block.type === 'tool_use');
      const response: ModelResponse = {
        id: `msg_${index + 1}`,
        model: modelId,
        content: turn.content,
        stopReason: turn.stopReason ?? (hasTools ? 'tool_use' : 'end_turn'),
        providerStopReason: turn.stopReason ?? (hasTools ? 'tool_use' : 'end_turn'),
        usage: { inputTokens: 100, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0, ...turn.usage },
      };
      return { response, retries: 0, latencyMs: 1 };
    },
  };
}

export function toolUse(id: string, name: string, input: unknown): ContentBlock {
  return { type: 'tool_use', id, name, input };
}

export function text(value: string): ContentBlock {
  return { type: 'text', text: value };
}
