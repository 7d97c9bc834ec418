import { describe, expect, it } from 'vitest';
import type { ModelRequest } from '../../spec/model.ts';
import { estimateCallCost } from './estimate-cost.ts';

/** The estimate's definition: a token per three UTF-8 bytes of the request's JSON. */
function expectedInputTokens(request: ModelRequest): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify({ system: request.system ?? '', messages: request.messages, tools: request.tools })) / 3);
}

describe('estimateCallCost', () => {
  it('counts the bytes of the request JSON, multi-byte text, escapes and left-out fields included', () => {
    const requests: ModelRequest[] = [
      { messages: [], tools: [], maxOutputTokens: 16 },
      { system: 'héllo "quoted"\n\u0001', messages: [{ role: 'user', content: [{ type: 'text', text: 'a€b😀' }] }], tools: [], maxOutputTokens: 16 },
      {
        system: '',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'look it up' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'lookup', input: { key: 'k1', absent: undefined } }] },
          { role: 'user', content: [{ type: 'tool_result', toolUseId: 'call_1', content: 'value', isError: false }] },
        ],
        tools: [
          { name: 'lookup', description: 'Look up a key', inputSchema: { properties: { key: { type: 'string' } } } },
          { name: 'other', description: 'ünïcode', inputSchema: {} },
        ],
        maxOutputTokens: 2048,
      },
    ];
    for (const request of requests) {
      expect(estimateCallCost(request)).toMatchObject({ requests: 1, inputTokens: expectedInputTokens(request), outputTokens: request.maxOutputTokens });
    }
  });

  it('gives the same estimate when the conversation grows by new messages around the ones already counted', () => {
    const first = { role: 'user' as const, content: [{ type: 'text' as const, text: 'x'.repeat(300) }] };
    const shorter: ModelRequest = { messages: [first], tools: [], maxOutputTokens: 1 };
    expect(estimateCallCost(shorter).inputTokens).toBe(expectedInputTokens(shorter));
    const longer: ModelRequest = { messages: [first, { role: 'assistant', content: [{ type: 'text', text: 'ok' }] }, first], tools: [], maxOutputTokens: 1 };
    expect(estimateCallCost(longer).inputTokens).toBe(expectedInputTokens(longer));
  });
});
