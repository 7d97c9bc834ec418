import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const child = join(here, 'crash-child.ts');
const modelFile = join(here, 'crash-model.json');
const scratch = mkdtempSync(join(tmpdir(), 'keel-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function runChild(mode: 'start' | 'resume', directory: string, crashAfter: number, crashPoint = 'after-append') {
  const outcome = spawnSync(process.execPath, ['--import', 'tsx', child, mode, join(directory, 'keel.db'), join(directory, 'effects'), 'ses_crash', String(crashAfter), modelFile, crashPoint], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const boundaries = [...outcome.stdout.matchAll(/^BOUNDARY (\d+)$/gm)].map((match) => Number(match[1]));
  return { ...outcome, boundaries };
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
}

async function journalOf(directory: string): Promise<SessionEvent[]> {
  const store = createSqliteStore({ path: join(directory, 'keel.db') });
  const events: SessionEvent[] = [];
  for await (const event of store.journal.read('ses_crash')) events.push(event);
  await store.close();
  return events;
}

describe('crash at every event boundary', () => {
  it('resumes after SIGKILL at each boundary and applies every charge exactly once', async () => {
    const reference = join(scratch, 'reference');
    const clean = runChild('start', reference, -1);
    expect(clean.status, clean.stderr).toBe(0);
    const boundaries = clean.boundaries;
    const referenceEvents = await journalOf(reference);
    expect(referenceEvents[referenceEvents.length - 1]).toMatchObject({ type: 'session-end', status: 'completed' });
    expect(boundaries[boundaries.length - 1]).toBe(referenceEvents.length);
    expect(lines(join(reference, 'effects', 'charges.log'))).toHaveLength(3);

    // Every boundary except the last, after which there is nothing left to resume. A model's response and its tool
    // requests ride in the append of the tool decisions (the session writer holds them), and the result of a step's
    // last call to finish rides in the next turn's model request once its idempotency record has it; the first of
    // two parallel calls to finish is written alone. This run has eight appends, the session's end the last.
    const crashPoints = boundaries.slice(0, -1);
    expect(crashPoints.length).toBeGreaterThanOrEqual(7);
    for (const crashAfter of crashPoints) {
      const directory = join(scratch, `crash-${crashAfter}`);
      const crashed = runChild('start', directory, crashAfter);
      expect(crashed.signal, `crash after ${crashAfter}: ${crashed.stderr}`).toBe('SIGKILL');
      expect(crashed.boundaries[crashed.boundaries.length - 1]).toBe(crashAfter);

      const beforeResume = await journalOf(directory);
      expect(beforeResume).toHaveLength(crashAfter);
      const resumed = runChild('resume', directory, -1);
      expect(resumed.status, `resume after ${crashAfter}: ${resumed.stderr}`).toBe(0);

      const events = await journalOf(directory);
      expect(validateJournal(events).problems, `journal after crash at ${crashAfter}`).toEqual([]);
      expect(events.slice(0, crashAfter)).toEqual(beforeResume);
      expect(events[events.length - 1]).toMatchObject({ type: 'session-end', status: 'completed', output: 'Charged ada, bob and cy.' });

      const charges = lines(join(directory, 'effects', 'charges.log'));
      expect(charges.map((line) => line.split(' ')[1]).sort(), `charges after crash at ${crashAfter}`).toEqual(['ada', 'bob', 'cy']);
      const requests = events.filter((event) => event.type === 'tool-request');
      expect(requests).toHaveLength(3);
      const keys = requests.map((event) => (event.type === 'tool-request' ? event.idempotencyKey : ''));
      expect(new Set(charges.map((line) => line.split(' ')[0]))).toEqual(new Set(keys));
      // A call re-runs only when its result was not journaled before the crash.
      const attempts = lines(join(directory, 'effects', 'attempts.log')).map((line) => line.split(' ')[0]);
      for (const key of keys) {
        const request = beforeResume.find((event) => event.type === 'tool-request' && event.idempotencyKey === key);
        const resultWritten = request !== undefined && request.type === 'tool-request' && beforeResume.some((event) => (event.type === 'tool-result' || event.type === 'tool-error') && event.callId === request.callId);
        const count = attempts.filter((attempt) => attempt === key).length;
        if (resultWritten) expect(count, `key ${key} re-ran after crash at ${crashAfter}`).toBe(1);
        else expect(count).toBeLessThanOrEqual(2);
      }
    }
  }, 1_200_000); // each child has its own 60 s limit for hangs; this one only bounds the whole loop on a loaded machine
});

describe('crash while a model call is in flight', () => {
  it('crashed inside a model call: the journal opens at its request, and resume applies every charge exactly once', async () => {
    const reference = join(scratch, 'held-reference');
    const clean = runChild('start', reference, -1);
    expect(clean.status, clean.stderr).toBe(0);
    const referenceEvents = await journalOf(reference);
    // Killed inside the first, second and third model calls: the turn's request is journaled before the call.
    for (const call of [1, 2, 3]) {
      const directory = join(scratch, `held-${call}`);
      const crashed = runChild('start', directory, call, 'in-model-call');
      expect(crashed.signal, `crash in model call ${call}: ${crashed.stderr}`).toBe('SIGKILL');
      const beforeResume = await journalOf(directory);
      // What is stored is exactly what the last acknowledged append covered, a prefix of the clean run's journal
      // that ends with the request of the model call that was in flight.
      expect(beforeResume.length).toBe(crashed.boundaries.at(-1));
      expect(beforeResume.map((event) => event.type)).toEqual(referenceEvents.slice(0, beforeResume.length).map((event) => event.type));
      expect(beforeResume.filter((event) => event.type === 'turn-start')).toHaveLength(call);
      expect(beforeResume.at(-1)?.type).toBe('model-request');
      const resumed = runChild('resume', directory, -1);
      expect(resumed.status, `resume after crash in model call ${call}: ${resumed.stderr}`).toBe(0);
      const events = await journalOf(directory);
      expect(validateJournal(events).problems, `journal after crash in model call ${call}`).toEqual([]);
      expect(events.slice(0, beforeResume.length)).toEqual(beforeResume);
      expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
      const charges = lines(join(directory, 'effects', 'charges.log'));
      expect(charges.map((line) => line.split(' ')[1]).sort(), `charges after crash in model call ${call}`).toEqual(['ada', 'bob', 'cy']);
      // The crash came before any of that turn's tools ran: each call ran exactly once.
      const attempts = lines(join(directory, 'effects', 'attempts.log')).map((line) => line.split(' ')[0]);
      expect(attempts).toHaveLength(3);
      expect(new Set(attempts).size).toBe(3);
    }
  }, 300_000);
});

describe('crash after a tool ran but before its result reached the journal', () => {
  it('the re-run gets the outcome recorded by idempotency key, and the tool does not run again', async () => {
    const directory = join(scratch, 'before-result');
    const crashed = runChild('start', directory, 1, 'before-tool-result');
    expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
    const attemptsBefore = lines(join(directory, 'effects', 'attempts.log'));
    expect(attemptsBefore.length).toBeGreaterThanOrEqual(1);
    const beforeResume = await journalOf(directory);
    expect(beforeResume.some((event) => event.type === 'tool-result')).toBe(false);
    const store = createSqliteStore({ path: join(directory, 'keel.db') });
    const recorded = (store.database.prepare('SELECT idempotency_key FROM tool_outcomes').all() as { idempotency_key: string }[]).map((row) => row.idempotency_key);
    await store.close();
    expect(recorded.length).toBeGreaterThanOrEqual(1);
    const resumed = runChild('resume', directory, -1);
    expect(resumed.status, resumed.stderr).toBe(0);
    const events = await journalOf(directory);
    expect(validateJournal(events).problems).toEqual([]);
    expect(events[events.length - 1]).toMatchObject({ type: 'session-end', status: 'completed' });
    // A call whose outcome was recorded before the crash is not run again; one still running then may be (its far end dedupes).
    const attempts = lines(join(directory, 'effects', 'attempts.log')).map((line) => line.split(' ')[0]);
    for (const key of recorded) expect(attempts.filter((attempt) => attempt === key), `key ${key}`).toHaveLength(1);
    expect(new Set(attempts).size).toBe(3);
    expect(lines(join(directory, 'effects', 'charges.log'))).toHaveLength(3);
  }, 120_000);
});
