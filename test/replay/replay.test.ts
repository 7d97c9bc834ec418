import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { replayAllTurns, replayRequest } from '../../src/runtime/replay.ts';
import { createMemoryBlobStore, createMemoryJournal, createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { canonicalJson, sha256 } from '../../src/util/index.ts';
import { dependenciesFor, runToEnd } from '../helpers/loop-harness.ts';
import { supportAgent, supportScript, supportTask } from './fixtures.ts';

async function thrown(promise: Promise<unknown>): Promise<KeelError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof KeelError) return error;
    throw error;
  }
  throw new Error('expected a KeelError');
}

describe('replay of a session run by the loop', () => {
  it('rebuilds the request of every turn byte for byte, as the model received it', async () => {
    const model = supportScript();
    const dependencies = dependenciesFor(model);
    const { result, events } = await runToEnd(supportAgent(), dependencies, supportTask);
    expect(result.status).toBe('completed');
    const journaled = events.filter((event): event is Extract<SessionEvent, { type: 'model-request' }> => event.type === 'model-request');
    expect(journaled).toHaveLength(3);

    const turns = await replayAllTurns(dependencies.journal, dependencies.blobs, result.sessionId);
    expect(turns.map((turn) => [turn.turn, turn.status])).toEqual([[1, 'verified'], [2, 'verified'], [3, 'verified']]);
    for (const [index, turn] of turns.entries()) {
      if (turn.status !== 'verified') throw new Error('unreachable');
      const { replay } = turn;
      expect(replay.requestHash).toBe(journaled[index]?.requestHash);
      expect(sha256(replay.serialized)).toBe(replay.requestHash);
      expect(replay.verified).toBe(true);
      // What the model was given, serialised the same way, is exactly the stored text.
      expect(canonicalJson(model.requests[index])).toBe(replay.serialized);
      expect(replay.request).toEqual(model.requests[index]);
      expect(replay.response?.responseId).toBe(`msg_${index + 1}`);
    }

    const single = await replayRequest(dependencies.journal, dependencies.blobs, result.sessionId, 2);
    expect(single.turn).toBe(2);
    expect(single.attempts).toBe(1);
    // The two results, then the trust layout's reminder of the task.
    expect(single.request.messages.at(-1)?.content.map((block) => block.type)).toEqual(['tool_result', 'tool_result', 'text']);
  });

  it('detects a tampered blob and names the session, turn and hash', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    try {
      const dependencies = dependenciesFor(supportScript(), { journal: store.journal, blobs: store.blobs });
      const { result, events } = await runToEnd(supportAgent(), dependencies, supportTask);
      const request = events.find((event) => event.type === 'model-request' && event.turn === 2);
      if (request?.type !== 'model-request') throw new Error('no model-request at turn 2');
      const original = await store.blobs.get(request.requestHash);
      store.database.prepare('UPDATE blobs SET content = ? WHERE hash = ?').run((original ?? '').replace('cus_1', 'cus_2'), request.requestHash);

      const error = await thrown(replayRequest(store.journal, store.blobs, result.sessionId, 2));
      expect(error.code).toBe('journal-corrupt');
      expect(error.message).toContain(result.sessionId);
      expect(error.message).toContain('turn 2');
      expect(error.message).toContain(request.requestHash);
      expect(error.details).toMatchObject({ sessionId: result.sessionId, turn: 2, requestHash: request.requestHash });

      const turns = await replayAllTurns(store.journal, store.blobs, result.sessionId);
      expect(turns.map((turn) => turn.status)).toEqual(['verified', 'corrupt', 'verified']);
    } finally {
      await store.close();
    }
  });

  it('reports a missing blob as journal-corrupt', async () => {
    const dependencies = dependenciesFor(supportScript());
    const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
    const emptyBlobs = createMemoryBlobStore();
    const error = await thrown(replayRequest(dependencies.journal, emptyBlobs, result.sessionId, 1));
    expect(error.code).toBe('journal-corrupt');
    expect(error.message).toMatch(/missing from the blob store/);
    expect(error.message).toContain(result.sessionId);
  });

  it('names the turns there are when asked for one without a model request, and unknown sessions', async () => {
    const dependencies = dependenciesFor(supportScript());
    const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
    const error = await thrown(replayRequest(dependencies.journal, dependencies.blobs, result.sessionId, 7));
    expect(error.code).toBe('invalid-argument');
    expect(error.message).toContain('turns 1-3');
    expect((await thrown(replayRequest(dependencies.journal, dependencies.blobs, 'ses_nope', 1))).code).toBe('session-not-found');
  });

  it('replays the last request of a turn that was sent again after a crash', async () => {
    const journal = createMemoryJournal();
    const blobs = createMemoryBlobStore();
    const first = canonicalJson({ maxOutputTokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], system: 'first', tools: [] });
    const second = canonicalJson({ maxOutputTokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], system: 'second', tools: [] });
    const firstHash = await blobs.put(first);
    const secondHash = await blobs.put(second);
    const envelope = (seq: number) => ({ v: 1, sessionId: 'ses_retry', seq, at: 1_000 + seq });
    const tokens = { system: 1, tools: 0, history: 1, total: 2 };
    const events: SessionEvent[] = [
      { ...envelope(1), type: 'session-start', agent: { name: 'a', instructionsHash: 'x', tools: [] }, model: { provider: 'test', modelId: 'm' }, input: 'hi', limits: { maxTurns: 5, deadlineAt: null, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: null, maxIdenticalToolCalls: 3 } },
      { ...envelope(2), type: 'turn-start', turn: 1 },
      { ...envelope(3), type: 'context-assemble', turn: 1, requestHash: firstHash, messageCount: 1, tokens, tokenCounting: 'estimate', durationMs: 0 },
      { ...envelope(4), type: 'model-request', turn: 1, requestHash: firstHash, provider: 'test', model: 'm', streaming: false },
      { ...envelope(5), type: 'context-assemble', turn: 1, requestHash: secondHash, messageCount: 1, tokens, tokenCounting: 'estimate', durationMs: 0 },
      { ...envelope(6), type: 'model-request', turn: 1, requestHash: secondHash, provider: 'test', model: 'm', streaming: false },
    ];
    await journal.append('ses_retry', events, 0);
    const replay = await replayRequest(journal, blobs, 'ses_retry', 1);
    expect(replay.attempts).toBe(2);
    expect(replay.seq).toBe(6);
    expect(replay.request.system).toBe('second');
    expect(replay.serialized).toBe(second);
    expect(replay.response).toBeNull();
  });
});

describe('replay of the incident demo', () => {
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(join(tmpdir(), 'keel-replay-incident-'));
    process.env.KEEL_INCIDENT_DB = join(directory, 'incident.db');
    process.env.KEEL_INCIDENT_REPORTS = join(directory, 'reports');
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('verifies every turn of the scripted incident investigation', async () => {
    const { default: agent } = await import('../../examples/incident/agent.ts');
    const keel = createKeel({ database: ':memory:', model: `scripted:${resolve('examples/incident/model.json')}`, env: {} });
    try {
      const session = keel.run(agent, undefined);
      const result = await session.result;
      expect(result.status).toBe('completed');
      const events = await keel.events(result.sessionId);
      expect(validateJournal(events).problems).toEqual([]);
      const turns = await replayAllTurns(keel.journal, keel.blobs, result.sessionId);
      expect(turns.length).toBe(result.turns);
      expect(turns.length).toBeGreaterThan(5);
      for (const turn of turns) {
        expect(turn.status).toBe('verified');
        if (turn.status === 'verified') {
          expect(sha256(turn.replay.serialized)).toBe(turn.requestHash);
          // The agent plans its context, so the trust rule of the fencing follows its instructions.
          expect(turn.replay.request.system?.startsWith(agent.instructions)).toBe(true);
        }
      }
    } finally {
      await keel.close();
    }
  }, 60_000);
});
