import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { foldEvents, startSession } from '../../src/loop/index.ts';
import { createCallLogPolicy, dayMs, purgeRequestBlobs } from '../../src/runtime/call-log.ts';
import { isPurgedRequestError, replayAllTurns, replayRequest } from '../../src/runtime/replay.ts';
import { createMemoryCallLog, createSqliteBlobEraser, createSqliteCallLog, createSqliteStore, validateJournal } from '../../src/store/index.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { dependenciesFor, readAll, runToEnd } from '../helpers/loop-harness.ts';
import { supportAgent, supportScript, supportTask } from './fixtures.ts';

const email = 'alice@example.com';

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), 'keel-call-log-'));
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe('LLM call logging policy', () => {
  it('at sample rate 0 logs token counts only, while the audit log holds the full prompt and response', async () => {
    const dependencies = dependenciesFor(supportScript());
    const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
    const sampledLog = createMemoryCallLog({ channel: 'sampled' });
    const auditLog = createMemoryCallLog({ channel: 'audit' });
    const policy = createCallLogPolicy({ sampledLog, auditLog });
    expect(policy.sampleRate).toBe(0);
    expect(await policy.recordSession(dependencies.journal, dependencies.blobs, result.sessionId)).toBe(3);

    const sampled = await sampledLog.read(result.sessionId);
    expect(sampled.map((entry) => [entry.turn, entry.prompt, entry.response, entry.usage.inputTokens, entry.usage.outputTokens])).toEqual([
      [1, null, null, 100, 10],
      [2, null, null, 100, 10],
      [3, null, null, 100, 10],
    ]);
    const audit = await auditLog.read(result.sessionId);
    expect(audit).toHaveLength(3);
    for (const entry of audit) {
      expect(entry.redacted).toBe(false);
      expect(entry.prompt).toBe(await dependencies.blobs.get(entry.requestHash));
      expect(entry.prompt).toContain(email);
    }
    expect(audit[2]?.response).toContain(email);
    // Recording the same session again adds nothing.
    await policy.recordSession(dependencies.journal, dependencies.blobs, result.sessionId);
    expect(await auditLog.read(result.sessionId)).toHaveLength(3);
  });

  it('at sample rate 1 logs every call, redacted with the PII redactor: no e-mail address survives', async () => {
    const dependencies = dependenciesFor(supportScript());
    const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
    const sampledLog = createMemoryCallLog({ channel: 'sampled' });
    const auditLog = createMemoryCallLog({ channel: 'audit' });
    const policy = createCallLogPolicy({ sampleRate: 1, sampledLog, auditLog });
    await policy.recordSession(dependencies.journal, dependencies.blobs, result.sessionId);

    const sampled = await sampledLog.read(result.sessionId);
    expect(sampled).toHaveLength(3);
    for (const entry of sampled) {
      expect(entry.redacted).toBe(true);
      expect(entry.prompt).not.toBeNull();
      expect(`${entry.prompt}${entry.response}`).not.toContain('@example.com');
      expect(entry.prompt).toContain('[REDACTED:email]');
    }
    expect(sampled[2]?.response).toContain('[REDACTED:email]');
    const audit = await auditLog.read(result.sessionId);
    expect(audit.every((entry) => entry.prompt?.includes(email) === true)).toBe(true);
  });

  it('samples a share of calls with an injected random source and redactor', async () => {
    const dependencies = dependenciesFor(supportScript());
    const { result } = await runToEnd(supportAgent(), dependencies, supportTask);
    const draws = [0.1, 0.9, 0.3];
    const sampledLog = createMemoryCallLog({ channel: 'sampled' });
    const policy = createCallLogPolicy({ sampleRate: 0.5, random: () => draws.shift() ?? 1, redact: (text) => text.replaceAll(email, '<email>'), sampledLog });
    await policy.recordSession(dependencies.journal, dependencies.blobs, result.sessionId);
    const sampled = await sampledLog.read(result.sessionId);
    expect(sampled.map((entry) => entry.prompt !== null)).toEqual([true, false, true]);
    expect(sampled[0]?.prompt).toContain('<email>');
    expect(sampled[0]?.prompt).not.toContain(email);
  });

  it('logs calls live from the session updates', async () => {
    const dependencies = dependenciesFor(supportScript());
    const auditLog = createMemoryCallLog();
    const policy = createCallLogPolicy({ auditLog });
    const observer = policy.observer(dependencies.blobs);
    const session = startSession(supportAgent(), dependencies, { input: supportTask, onUpdate: (update) => update.type === 'event' && observer.observe(update.event) });
    await session.result;
    await observer.flush();
    expect((await auditLog.read(session.sessionId)).map((entry) => entry.responseId)).toEqual(['msg_1', 'msg_2', 'msg_3']);
  });

  it('refuses a misconfiguration: full texts go only to an audit-channel store', () => {
    expect(() => createCallLogPolicy({ auditLog: createMemoryCallLog({ channel: 'sampled' }) })).toThrow(/access-controlled/);
    expect(() => createCallLogPolicy({ sampleRate: 1.5 })).toThrow(/between 0 and 1/);
    expect(() => createCallLogPolicy({ retentionDays: 0 })).toThrow(/positive/);
  });

  it('creates its own audit database file with mode 0600', () => {
    const path = join(directory, 'private', 'audit.db');
    const auditLog = createSqliteCallLog({ path });
    try {
      if (process.platform !== 'win32') {
        expect(statSync(path).mode & 0o777).toBe(0o600);
        expect(statSync(join(directory, 'private')).mode & 0o777).toBe(0o700);
      }
    } finally {
      void auditLog.close();
    }
  });
});

describe('retention', () => {
  it('purges only texts past retention (fake clock); the journal still validates and folds', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const store = createSqliteStore({ path: ':memory:', clock });
    const auditLog = createSqliteCallLog({ path: join(directory, 'audit.db'), clock });
    const sampledLog = createSqliteCallLog({ database: store.database, channel: 'sampled', clock });
    try {
      const policy = createCallLogPolicy({ sampleRate: 1, retentionDays: 30, clock, sampledLog, auditLog });
      const deps = () => dependenciesFor(supportScript(), { journal: store.journal, blobs: store.blobs, clock });
      const old = await runToEnd(supportAgent(), deps(), supportTask);
      await policy.recordSession(store.journal, store.blobs, old.result.sessionId);
      clock.advance(20 * dayMs);
      const recent = await runToEnd(supportAgent(), deps(), 'Customer cus_1 asks about her plan.');
      await policy.recordSession(store.journal, store.blobs, recent.result.sessionId);

      // 29 days after the first session: nothing is old enough yet.
      clock.advance(9 * dayMs);
      expect((await policy.purge()).audit).toEqual({ purged: 0 });

      clock.advance(6 * dayMs);
      const report = await policy.purge();
      expect(report.cutoff).toBe(clock.now() - 30 * dayMs);
      expect(report.audit).toEqual({ purged: 3 });
      expect(report.sampled).toEqual({ purged: 3 });

      for (const log of [auditLog, sampledLog]) {
        const purged = await log.read(old.result.sessionId);
        expect(purged).toHaveLength(3);
        for (const entry of purged) {
          expect(entry).toMatchObject({ prompt: null, response: null, purgedAt: clock.now() });
          expect(entry.usage.inputTokens).toBe(100);
          expect(entry.requestHash).toMatch(/^[0-9a-f]{64}$/);
        }
        const kept = await log.read(recent.result.sessionId);
        expect(kept.every((entry) => entry.prompt !== null && entry.response !== null && entry.purgedAt === null)).toBe(true);
      }
      expect((await policy.purge()).audit).toEqual({ purged: 0 });

      // The journal is untouched: it validates and folds as before.
      for (const sessionId of [old.result.sessionId, recent.result.sessionId]) {
        const events = await readAll(deps(), sessionId);
        expect(validateJournal(events).problems).toEqual([]);
        expect(foldEvents(events).end?.status).toBe('completed');
      }
      expect(await readAll(deps(), old.result.sessionId)).toEqual(old.events);

      // Replay still works: the call log purge does not touch the request blobs.
      expect((await replayAllTurns(store.journal, store.blobs, old.result.sessionId)).every((turn) => turn.status === 'verified')).toBe(true);

      // Optionally the request blobs go too; replay then says so instead of reporting corruption.
      const blobPurge = await policy.purgeRequestBlobs(store.journal, store.blobs, createSqliteBlobEraser(store.database));
      expect(blobPurge.purged).toHaveLength(3);
      expect(blobPurge.stillReferenced).toBe(3);
      const error = await replayRequest(store.journal, store.blobs, old.result.sessionId, 2).catch((thrown: unknown) => thrown);
      expect(isPurgedRequestError(error)).toBe(true);
      expect((error as Error).message).toContain('purged by the retention policy (retention 30 days) on 2026-02-05');
      expect((await replayAllTurns(store.journal, store.blobs, old.result.sessionId)).map((turn) => turn.status)).toEqual(['purged', 'purged', 'purged']);
      expect((await replayAllTurns(store.journal, store.blobs, recent.result.sessionId)).map((turn) => turn.status)).toEqual(['verified', 'verified', 'verified']);
      const erased = store.database.prepare<[string], string>('SELECT content FROM blobs WHERE hash = ?').pluck().get(blobPurge.purged[0] ?? '');
      expect(erased).not.toContain(email);
      expect(validateJournal(await readAll(deps(), old.result.sessionId)).problems).toEqual([]);
      // Purging again finds nothing more to erase.
      expect((await policy.purgeRequestBlobs(store.journal, store.blobs, createSqliteBlobEraser(store.database))).purged).toEqual([]);
    } finally {
      await auditLog.close();
      await sampledLog.close();
      await store.close();
    }
  });

  it('keeps a request blob that a newer session shares (content addressing)', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 1));
    const store = createSqliteStore({ path: ':memory:', clock });
    try {
      const deps = () => dependenciesFor(supportScript(), { journal: store.journal, blobs: store.blobs, clock });
      // Without the trust layout's per-session boundary, the two sessions send byte-identical requests.
      const old = await runToEnd(supportAgent(undefined, { trustLayout: false }), deps(), supportTask);
      clock.advance(40 * dayMs);
      await runToEnd(supportAgent(undefined, { trustLayout: false }), deps(), supportTask);
      const result = await purgeRequestBlobs({ journal: store.journal, blobs: store.blobs, eraser: createSqliteBlobEraser(store.database), before: clock.now() - 30 * dayMs, now: clock.now() });
      expect(result).toMatchObject({ purged: [], stillReferenced: 3 });
      expect((await replayAllTurns(store.journal, store.blobs, old.result.sessionId)).every((turn) => turn.status === 'verified')).toBe(true);
    } finally {
      await store.close();
    }
  });
});
