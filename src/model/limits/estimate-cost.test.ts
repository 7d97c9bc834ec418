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

  it('counts copied messages from their blocks exactly, and messages of another shape whole', () => {
    const result = { type: 'tool_result' as const, toolUseId: 'call_1', content: 'fenced «data»', isError: false };
    const original = { role: 'user' as const, content: [result] };
    const copy = { ...original, content: [result, { type: 'text' as const, text: 'reminder' }] };
    const reordered = { content: [result], role: 'user' as const };
    const empty = { role: 'assistant' as const, content: [] };
    const extraKey = { role: 'user' as const, content: [result], name: 'x' } as ModelRequest['messages'][number];
    const inherited = Object.assign(Object.create({ inheritedKey: 1 }) as object, { role: 'user', content: [result] }) as ModelRequest['messages'][number];
    const withToJson = { role: 'user' as const, content: [result], toJSON: () => ({ replaced: true }) } as ModelRequest['messages'][number];
    // Three paddings of the system text: matching token counts for all three pin the byte count itself.
    for (const system of ['', 'x', 'xx']) {
      const request: ModelRequest = { system, messages: [original, copy, reordered, empty, extraKey, inherited, withToJson, copy], tools: [], maxOutputTokens: 1 };
      expect(estimateCallCost(request).inputTokens).toBe(expectedInputTokens(request));
    }
  });
});
