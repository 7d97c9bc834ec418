import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import { createGateway, createScriptedModel } from '../../src/model/index.ts';
import { applyStrategy, compareOutcomes, runCounterfactual } from '../../src/runtime/counterfactual.ts';
import type { Model, ModelRequest } from '../../src/spec/index.ts';
import { dependenciesFor, readAll, runToEnd } from '../helpers/loop-harness.ts';
import { boundaryOf } from '../helpers/trust-layout.ts';
import { trustedSystem } from '../../src/context/index.ts';
import { supportAgent, supportTask } from './fixtures.ts';

const originalScript = [
  {
    model: 'claude-sonnet-4-5',
    content: [
      { type: 'text' as const, text: 'Looking up the customer and the orders.' },
      { type: 'tool_use' as const, id: 'c1', name: 'lookup_customer', input: { id: 'cus_1' } },
      { type: 'tool_use' as const, id: 'c2', name: 'list_orders', input: { customerId: 'cus_1' } },
    ],
    usage: { input_tokens: 400, output_tokens: 40 },
  },
  { model: 'claude-sonnet-4-5', content: [{ type: 'text' as const, text: 'She has two orders.' }], usage: { input_tokens: 600, output_tokens: 10 } },
];

async function recordedSession() {
  const model = createScriptedModel(originalScript, { modelId: 'claude-sonnet-4-5' });
  const dependencies = dependenciesFor(createGateway(model, { maxRetries: 0 }));
  const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
  expect(result.status).toBe('completed');
  return { dependencies, sessionId: result.sessionId };
}

/** A model that records what it was asked, answering from a script. */
function recording(script: Parameters<typeof createScriptedModel>[0], modelId: string): Model & { requests: ModelRequest[] } {
  const inner = createScriptedModel(script, { modelId });
  const requests: ModelRequest[] = [];
  return {
    provider: inner.provider,
    modelId,
    requests,
    generate(request, signal) {
      requests.push(request);
      return inner.generate(request, signal);
    },
    stream(request, signal) {
      requests.push(request);
      return inner.stream(request, signal);
    },
  };
}

describe('counterfactual re-run of one turn', () => {
  it('shows how a second model answers the same request differently: stop reason, tool calls, text, usage, cost', async () => {
    const { dependencies, sessionId } = await recordedSession();
    const before = await dependencies.journal.lastSeq(sessionId);
    const other = recording([
      { model: 'claude-haiku-4-5', content: [{ type: 'text', text: 'I cannot tell without looking.' }], stop_reason: 'end_turn', usage: { input_tokens: 400, output_tokens: 12 } },
    ], 'claude-haiku-4-5');

    const result = await runCounterfactual({ journal: dependencies.journal, blobs: dependencies.blobs, sessionId, turn: 1, model: other });

    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]).toEqual(result.replay.request);
    expect(result.original?.stopReason).toBe('tool_use');
    expect(result.counterfactual.stopReason).toBe('end_turn');
    expect(result.changes).toContain('model scripted:claude-sonnet-4-5 → scripted:claude-haiku-4-5');
    expect(result.differences).toContain('stop reason: tool_use → end_turn');
    expect(result.differences).toContain('model: claude-sonnet-4-5 → claude-haiku-4-5');
    expect(result.differences).toContain('tool calls: [lookup_customer, list_orders] → [none]');
    expect(result.differences).toContain('- tool call lookup_customer {"id":"cus_1"}');
    expect(result.differences).toContain('- tool call list_orders {"customerId":"cus_1"}');
    expect(result.differences).toContain('- Looking up the customer and the orders.');
    expect(result.differences).toContain('+ I cannot tell without looking.');
    expect(result.differences).toContain('usage: output 40 → 12');
    expect(result.differences.some((line) => line.startsWith('cost: '))).toBe(true);
    expect(result.costUsd).toBeCloseTo((400 * 1 + 12 * 5) / 1_000_000, 12);
    // The session's journal is untouched.
    expect(await dependencies.journal.lastSeq(sessionId)).toBe(before);
  });

  it('reports tool calls whose inputs differ, and nothing else when the rest is the same', async () => {
    const { dependencies, sessionId } = await recordedSession();
    const changedInput = createScriptedModel([
      {
        model: 'claude-sonnet-4-5',
        content: [
          { type: 'text', text: 'Looking up the customer and the orders.' },
          { type: 'tool_use', id: 'x1', name: 'lookup_customer', input: { id: 'cus_2' } },
          { type: 'tool_use', id: 'x2', name: 'list_orders', input: { customerId: 'cus_1' } },
        ],
        usage: { input_tokens: 400, output_tokens: 40 },
      },
    ]);
    const result = await runCounterfactual({ journal: dependencies.journal, blobs: dependencies.blobs, sessionId, turn: 1, model: changedInput });
    expect(result.differences).toEqual([
      'tool calls: [lookup_customer, list_orders] → [lookup_customer, list_orders]',
      '- tool call lookup_customer {"id":"cus_1"}',
      '+ tool call lookup_customer {"id":"cus_2"}',
      // The harness prices every model at $3/$15 per million; the pricing table prices claude-sonnet-4-5 the same.
    ]);

    const same = createScriptedModel(originalScript);
    const rerun = await runCounterfactual({ journal: dependencies.journal, blobs: dependencies.blobs, sessionId, turn: 2, model: same });
    expect(rerun.differences).toEqual([]);
  });

  it('replaces the system prompt, applies a context strategy or a transform, before calling the model', async () => {
    const { dependencies, sessionId } = await recordedSession();
    const other = recording([{ content: [{ type: 'text', text: 'a' }] }, { content: [{ type: 'text', text: 'b' }] }], 'claude-sonnet-4-5');
    const result = await runCounterfactual({
      journal: dependencies.journal,
      blobs: dependencies.blobs,
      sessionId,
      turn: 2,
      model: other,
      systemPrompt: 'Answer in French.',
      strategy: 'elide-tool-results',
      transform: (request) => ({ ...request, maxOutputTokens: 99 }),
    });
    const sent = other.requests[0];
    expect(sent?.system).toBe('Answer in French.');
    expect(sent?.maxOutputTokens).toBe(99);
    const results = sent?.messages.flatMap((message) => message.content.filter((block) => block.type === 'tool_result'));
    expect(results?.map((block) => (block.type === 'tool_result' ? block.content : ''))).toEqual([expect.stringMatching(/^\[tool result elided/), expect.stringMatching(/^\[tool result elided/)]);
    expect(result.changes).toEqual(expect.arrayContaining([expect.stringMatching(/^system prompt replaced/), 'context strategy elide-tool-results', 'request transformed']));
    // The replayed original is unchanged.
    expect(result.replay.request.system).toBe(trustedSystem(supportAgent().instructions, boundaryOf(await readAll(dependencies, sessionId))));
  });

  it('uses the model spec recorded at session start when no model is given, and asks for --model without one', async () => {
    const { dependencies, sessionId } = await recordedSession();
    await expect(runCounterfactual({ journal: dependencies.journal, blobs: dependencies.blobs, sessionId, turn: 1 })).rejects.toThrow(/--model/);

    const directory = mkdtempSync(join(tmpdir(), 'keel-counterfactual-'));
    try {
      writeFileSync(join(directory, 'script.json'), JSON.stringify(originalScript));
      const keel = createKeel({ database: ':memory:', model: 'scripted:script.json', cwd: directory, env: {} });
      const session = keel.run(supportAgent(), supportTask);
      const finished = await session.result;
      expect(finished.status).toBe('completed');
      const rerun = await runCounterfactual({ journal: keel.journal, blobs: keel.blobs, sessionId: finished.sessionId, turn: 1, cwd: directory, env: {} });
      expect(rerun.changes).toEqual([]);
      expect(rerun.differences).toEqual([]);
      await keel.close();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('keeps a sliding window that opens on an assistant message', () => {
    const user = (value: string) => ({ role: 'user' as const, content: [{ type: 'text' as const, text: value }] });
    const assistant = (value: string) => ({ role: 'assistant' as const, content: [{ type: 'text' as const, text: value }] });
    const request: ModelRequest = { messages: [user('task'), assistant('a1'), user('u1'), assistant('a2'), user('u2'), assistant('a3'), user('u3')], tools: [], maxOutputTokens: 10 };
    expect(applyStrategy('window:2', request).messages.map((message) => (message.content[0]?.type === 'text' ? message.content[0].text : ''))).toEqual(['task', 'a3', 'u3']);
    expect(applyStrategy('window:3', request).messages).toHaveLength(5);
    expect(applyStrategy('no-tools', { ...request, tools: [{ name: 't', description: '', inputSchema: {} }] }).tools).toEqual([]);
    expect(() => applyStrategy('bogus', request)).toThrow(/Unknown context strategy/);
  });

  it('says when there is no original response to compare', () => {
    expect(compareOutcomes(null, { id: 'm', model: 'x', content: [], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 } }, null)[0]).toMatch(/no journaled response/);
  });
});
