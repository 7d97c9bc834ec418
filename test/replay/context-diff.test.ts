import { describe, expect, it } from 'vitest';
import { diffCommand, parseSessionTurn } from '../../src/cli/diff-command.ts';
import { contextDiffToJson, diffContexts, diffLines, renderContextDiff } from '../../src/runtime/context-diff.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { replayRequest } from '../../src/runtime/replay.ts';
import type { ModelRequest, SessionEvent } from '../../src/spec/index.ts';
import { createMemoryBlobStore, createMemoryJournal } from '../../src/store/index.ts';
import { canonicalJson } from '../../src/util/index.ts';
import { dependenciesFor, readAll, runToEnd } from '../helpers/loop-harness.ts';
import { boundaryOf } from '../helpers/trust-layout.ts';
import { trustRule } from '../../src/context/index.ts';
import { supportAgent, supportScript, supportTask, withoutToolResult } from './fixtures.ts';

/** Journals a one-turn session whose only request is `request`, as a session with another context strategy would. */
async function journalRequest(journal: ReturnType<typeof createMemoryJournal>, blobs: ReturnType<typeof createMemoryBlobStore>, sessionId: string, request: ModelRequest): Promise<void> {
  const requestHash = await blobs.put(canonicalJson(request));
  const envelope = (seq: number) => ({ v: 1, sessionId, seq, at: 5_000 + seq });
  const events: SessionEvent[] = [
    { ...envelope(1), type: 'session-start', agent: { name: 'support', instructionsHash: 'h', tools: [] }, model: { provider: 'test', modelId: 'm' }, input: supportTask, limits: { maxTurns: 5, deadlineAt: null, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: null, maxIdenticalToolCalls: 3 } },
    { ...envelope(2), type: 'turn-start', turn: 1 },
    { ...envelope(3), type: 'context-assemble', turn: 1, requestHash, messageCount: request.messages.length, tokens: { system: 1, tools: 1, history: 1, total: 3 }, tokenCounting: 'estimate', durationMs: 0 },
    { ...envelope(4), type: 'model-request', turn: 1, requestHash, provider: 'test', model: 'm', streaming: false },
  ];
  await journal.append(sessionId, events, 0);
}

function lines(): { out: (line: string) => void; text: () => string } {
  const collected: string[] = [];
  return { out: (line) => collected.push(line), text: () => collected.join('\n') };
}

describe('context diff', () => {
  it('shows exactly a changed system prompt and a dropped tool result between two sessions', async () => {
    const journal = createMemoryJournal();
    const blobs = createMemoryBlobStore();
    const dependencies = dependenciesFor(supportScript(), { journal, blobs });
    const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
    const good = await replayRequest(journal, blobs, result.sessionId, 2);
    const bad: ModelRequest = { ...withoutToolResult(good.request, 'c1'), system: (good.request.system ?? '').replace('You help support staff. Be brief.', 'You help support staff.\nNever reveal e-mail addresses.') };
    await journalRequest(journal, blobs, 'ses_bad', bad);

    const diff = diffContexts(good.request, (await replayRequest(journal, blobs, 'ses_bad', 1)).request);
    const different = diff.segments.filter((segment) => segment.status !== 'same');
    expect(different.map((segment) => [segment.key, segment.status])).toEqual([
      ['system', 'changed'],
      ['tool-result:c1', 'only-a'],
    ]);
    expect(diff.counts).toMatchObject({ changed: 1, onlyA: 1, onlyB: 0 });
    // The trust rule the layout appends to the instructions is the unchanged context of the change.
    const ruleLines = ['', ...trustRule(boundaryOf(await readAll(dependencies, result.sessionId))).split('\n')];
    expect(different[0]?.lines).toEqual([
      { op: '-', text: 'You help support staff. Be brief.' },
      { op: '+', text: 'You help support staff.' },
      { op: '+', text: 'Never reveal e-mail addresses.' },
      ...ruleLines.map((text) => ({ op: ' ', text })),
    ]);
    expect(different[1]?.title).toBe('tool result c1 (lookup_customer)');
    expect(different[1]?.lines.every((line) => line.op === '-')).toBe(true);
    expect(different[1]?.lines.map((line) => line.text).join('\n')).toContain('alice@example.com');

    const keel = createKeel({ journal, blobs });
    const text = lines();
    expect(await diffCommand(keel, [`${result.sessionId}:2`, 'ses_bad:1'], { json: false }, text.out, () => undefined)).toBe(0);
    const rendered = text.text();
    expect(rendered).toContain(`--- A ${result.sessionId}:2`);
    expect(rendered).toContain('+++ B ses_bad:1');
    expect(rendered).toContain('1 changed, 1 only in A, 0 only in B');
    expect(rendered).toContain('=== system prompt: changed');
    expect(rendered).toContain('- You help support staff. Be brief.');
    expect(rendered).toContain('+ Never reveal e-mail addresses.');
    expect(rendered).toContain('=== tool result c1 (lookup_customer): only in A');
    expect(rendered.match(/^=== /gm)).toHaveLength(2);

    const json = lines();
    await diffCommand(keel, [`${result.sessionId}:2`, 'ses_bad'], { json: true }, json.out, () => undefined);
    const parsed = JSON.parse(json.text()) as { identical: boolean; segments: { key: string; status: string; lines: string[] }[] };
    expect(parsed.identical).toBe(false);
    expect(parsed.segments.map((segment) => segment.key)).toEqual(['system', 'tool-result:c1']);
    expect(parsed.segments[0]?.lines).toEqual(['-You help support staff. Be brief.', '+You help support staff.', '+Never reveal e-mail addresses.']);
  });

  it('finds only the system prompt changed between two loop sessions of differently instructed agents', async () => {
    const journal = createMemoryJournal();
    const blobs = createMemoryBlobStore();
    // Without the trust layout, whose per-session boundary differs in every fence, only the instructions differ.
    const first = await runToEnd(supportAgent('Be brief.', { trustLayout: false }), dependenciesFor(supportScript(), { journal, blobs }), supportTask);
    const second = await runToEnd(supportAgent('Be thorough.', { trustLayout: false }), dependenciesFor(supportScript(), { journal, blobs }), supportTask);
    for (const turn of [1, 2, 3]) {
      const a = await replayRequest(journal, blobs, first.result.sessionId, turn);
      const b = await replayRequest(journal, blobs, second.result.sessionId, turn);
      const diff = diffContexts(a.request, b.request);
      expect(diff.segments.filter((segment) => segment.status !== 'same').map((segment) => segment.key)).toEqual(['system']);
    }
    const same = await replayRequest(journal, blobs, first.result.sessionId, 3);
    const identical = diffContexts(same.request, same.request);
    expect(identical.identical).toBe(true);
    expect(renderContextDiff(identical)).toContain('identical segment for segment');
  });

  it('compares tools by name then schema, messages by role and block types, tool results by id', () => {
    const a: ModelRequest = {
      system: 'S',
      maxOutputTokens: 100,
      tools: [
        { name: 'search', description: 'Search', inputSchema: { type: 'object', properties: { q: { type: 'string' } } } },
        { name: 'delete', description: 'Delete', inputSchema: { type: 'object' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'find x' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'search', input: { q: 'x' } }] },
        { role: 'user', content: [{ type: 'tool_result', toolUseId: 't1', content: 'line 1\nline 2\nline 3', isError: false }] },
      ],
    };
    const b: ModelRequest = {
      system: 'S',
      maxOutputTokens: 200,
      tools: [
        { name: 'search', description: 'Search', inputSchema: { type: 'object', properties: { q: { type: 'string', maxLength: 50 } } } },
        { name: 'fetch', description: 'Fetch', inputSchema: { type: 'object' } },
      ],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'find x' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Searching.' }, { type: 'tool_use', id: 't1', name: 'search', input: { q: 'x' } }] },
        { role: 'user', content: [{ type: 'tool_result', toolUseId: 't1', content: 'line 1\nline 3', isError: false }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] },
      ],
    };
    const diff = diffContexts(a, b);
    const byKey = new Map(diff.segments.map((segment) => [segment.key, segment]));
    expect(byKey.get('settings')?.lines.filter((line) => line.op !== ' ')).toEqual([{ op: '-', text: 'maxOutputTokens: 100' }, { op: '+', text: 'maxOutputTokens: 200' }]);
    expect(byKey.get('tool:search')).toMatchObject({ status: 'changed', notes: ['input schema changed'] });
    expect(byKey.get('tool:search')?.lines.filter((line) => line.op !== ' ').map((line) => line.op + line.text.trim())).toEqual(['+"maxLength": 50,']);
    expect(byKey.get('tool:delete')?.status).toBe('only-a');
    expect(byKey.get('tool:fetch')?.status).toBe('only-b');
    expect(byKey.get('message:1')?.status).toBe('same');
    expect(byKey.get('message:2')).toMatchObject({ status: 'changed', notes: ['blocks [tool_use] → [text, tool_use]'] });
    expect(byKey.get('message:3')?.status).toBe('same');
    expect(byKey.get('message:4')).toMatchObject({ status: 'only-b', lines: [{ op: '+', text: 'Done.' }] });
    expect(byKey.get('tool-result:t1')).toMatchObject({ status: 'changed', lines: [{ op: ' ', text: 'line 1' }, { op: '-', text: 'line 2' }, { op: ' ', text: 'line 3' }] });
    const json = contextDiffToJson(diff) as { segments: unknown[] };
    expect(json.segments).toHaveLength(7);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('diffs lines with a longest common subsequence', () => {
    expect(diffLines(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'd', 'e'])).toEqual([
      { op: ' ', text: 'a' },
      { op: '-', text: 'b' },
      { op: '+', text: 'x' },
      { op: ' ', text: 'c' },
      { op: ' ', text: 'd' },
      { op: '+', text: 'e' },
    ]);
    expect(diffLines([], [])).toEqual([]);
  });

  it('parses session:turn arguments', () => {
    expect(parseSessionTurn('ses_01abc:3')).toEqual({ sessionId: 'ses_01abc', turn: 3 });
    expect(parseSessionTurn('ses_01abc')).toEqual({ sessionId: 'ses_01abc', turn: undefined });
    expect(parseSessionTurn('weird:id:12')).toEqual({ sessionId: 'weird:id', turn: 12 });
  });
});
