import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const childPath = fileURLToPath(new URL('./workflow-crash-child.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keel-workflow-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const sessionId = 'ses_workflow_crash';

function runProcess(directory: string, mode: 'start' | 'resume', crashAfter: number) {
  const outcome = spawnSync(process.execPath, ['--import', 'tsx', childPath, mode, join(directory, 'keel.db'), join(directory, 'effects'), sessionId, String(crashAfter)], {
    cwd: repositoryRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { killed: outcome.signal === 'SIGKILL', status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr };
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
}

async function journals(directory: string): Promise<Map<string, SessionEvent[]>> {
  const store = createSqliteStore({ path: join(directory, 'keel.db') });
  const all = new Map<string, SessionEvent[]>();
  try {
    for (const summary of await store.journal.listSessions({ limit: 100 })) {
      const events: SessionEvent[] = [];
      for await (const event of store.journal.read(summary.sessionId)) events.push(event);
      all.set(summary.sessionId, events);
    }
  } finally {
    await store.close();
  }
  return all;
}

describe('a workflow killed with SIGKILL and resumed', () => {
  // A clean run makes 23 appends: 7 of the workflow's, 8 of its agent step's child session, 8 of the workflow's again.
  // The first kill lands inside the child session, the second a few appends into the resume; every other point is
  // covered in process by resume.test.ts (a journal cut at every event). Each process takes seconds to start (tsx),
  // so this file runs one scenario; the crash suite can run more.
  it('killed inside the child session and again during the resume: every effect once, finished steps never again, one child', async () => {
    const kills = [10, 3];
    const directory = join(scratch, 'kills');
    let mode: 'start' | 'resume' = 'start';
    for (const crashAfter of kills) {
      const run = runProcess(directory, mode, crashAfter);
      expect(run.killed, run.stderr.slice(-2_000)).toBe(true);
      mode = 'resume';
    }
    const final = runProcess(directory, 'resume', -1);
    expect(final.status, final.stderr.slice(-2_000)).toBe(0);
    expect(final.stdout).toContain('RESULT {"status":"completed","output":"label reserve o-1 / notice sent","error":null}');

    expect(lines(join(directory, 'effects', 'effects.log')).sort()).toEqual(['close', 'label', 'reserve', 'send']);
    const sessions = await journals(directory);
    expect(sessions.size).toBe(2);
    const workflow = sessions.get(sessionId) ?? [];
    for (const [id, events] of sessions) expect(validateJournal(events).problems, id).toEqual([]);
    const child = [...sessions.keys()].find((id) => id !== sessionId);
    expect(sessions.get(child ?? '')?.[0]).toMatchObject({ type: 'session-start', parentSessionId: sessionId });
    expect(workflow.filter((event) => event.type === 'child-start')).toHaveLength(1);
    expect(workflow.filter((event) => event.type === 'child-end')).toHaveLength(1);
    // Every step attempt has exactly one outcome.
    const ends = workflow.filter((event) => event.type === 'step-end').map((event) => (event.type === 'step-end' ? `${event.path}#${event.attempt}:${event.status}` : ''));
    expect(ends.sort()).toEqual(['fulfil#1:ok', 'fulfil/close#1:ok', 'fulfil/reserve#1:ok', 'fulfil/ship#1:ok', 'fulfil/ship/label#1:ok', 'fulfil/ship/notify#1:ok']);
    // A step ran again only if it was in flight at a kill: at most once per incarnation.
    const attempts = lines(join(directory, 'effects', 'attempts.log')).map((line) => line.split(' ')[0]);
    for (const name of ['reserve', 'label', 'close', 'send']) expect(attempts.filter((attempt) => attempt === name).length).toBeLessThanOrEqual(kills.length + 1);
  }, 60_000);
});
