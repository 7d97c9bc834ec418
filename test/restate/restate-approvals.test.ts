import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { attachInvocation, sendSession } from '../../src/restate/index.ts';
import { freePort, startRestateServer } from '../helpers/restate-server.ts';
import type { RestateServerProcess } from '../helpers/restate-server.ts';
import { logLines } from './effects.ts';
import { expectWholeJournal, here, ofType, pending, root, runCli, startService, waitFor } from './restate-harness.ts';
import type { ServiceProcess } from './restate-harness.ts';

describe('sessions on a real Restate server: approvals and deadlines', () => {
  let directory: string;
  let database: string;
  let effects: string;
  let restate: RestateServerProcess;
  let cliService: ServiceProcess | undefined;
  let keel: Keel;
  let cliPort: number;
  const serviceEnv = (): Record<string, string> => ({ KEEL_TEST_EFFECTS_DIR: effects, KEEL_RESTATE_PORT: String(cliPort), KEEL_RESTATE_ADMIN_URL: restate.adminUrl });
  const startCliService = (): Promise<ServiceProcess> =>
    startService([join(root, 'src', 'cli', 'bin.ts'), 'restate', 'serve', '--agents', join(here, 'refunder.ts'), join(here, 'deadline-refunder.ts'), '--db', database, '--register', '--json'], serviceEnv());

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'keel-restate-approvals-'));
    database = join(directory, 'keel.db');
    effects = join(directory, 'effects');
    mkdirSync(effects);
    cliPort = await freePort();
    restate = await startRestateServer(directory);
    // `keel restate serve --register` registers the endpoint with the cluster before it reports that it listens.
    cliService = await startCliService();
    keel = createKeel({ database });
  }, 60_000);

  afterAll(async () => {
    await keel?.close();
    await cliService?.stop();
    await restate?.stop();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  }, 30_000);

  it('waits on an awakeable for a call that needs a person, and `keel approve` resolves it', async () => {
    const sessionId = 'ses_restate_approval';
    const invocation = await sendSession({ ingressUrl: restate.ingressUrl, sessionId }, { agent: 'refunder', task: 'Refund order 77.' });
    await waitFor('the refund to wait for approval', async () => ((await pending(restate.ingressUrl, sessionId)).includes('toolu_r1') ? true : undefined));
    expect(logLines(effects, 'attempts.log')).toEqual([]);

    const approved = await runCli(['approve', sessionId, 'toolu_r1', '--as', 'alice', '--db', database], { KEEL_RESTATE_INGRESS_URL: restate.ingressUrl });
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('on Restate');

    const result = await attachInvocation({ ingressUrl: restate.ingressUrl }, invocation);
    expect(result).toMatchObject({ sessionId, status: 'completed', output: 'Refunded order 77.' });
    expect(logLines(effects, 'effects.log')).toEqual([expect.stringMatching(/ refund 77 1500$/)]);
    const events = await keel.events(sessionId);
    expectWholeJournal(events);
    expect(ofType(events, 'tool-approval')).toEqual([expect.objectContaining({ callId: 'toolu_r1', approved: true, approver: 'alice' })]);
    // Keel's own readers see the session as they see one run in process.
    const trace = await keel.trace(sessionId);
    expect(JSON.stringify(trace)).toContain('refund');
    expect(await pending(restate.ingressUrl, sessionId)).toEqual([]);
  }, 60_000);

  it('ends a session whose approval never comes at its deadline, a durable timer that outlives the service process', async () => {
    const sessionId = 'ses_restate_deadline';
    const invocation = await sendSession({ ingressUrl: restate.ingressUrl, sessionId }, { agent: 'deadline-refunder', task: 'Refund order 77.' });
    await waitFor('the refund to wait for approval', async () => ((await pending(restate.ingressUrl, sessionId)).includes('toolu_r1') ? true : undefined));
    // The service dies while the session waits; the timer is Restate's, and fires into the restarted service.
    await cliService?.kill();
    cliService = await startCliService();

    const result = await attachInvocation({ ingressUrl: restate.ingressUrl }, invocation);
    expect(result).toMatchObject({ sessionId, status: 'failed', error: { code: 'guard-tripped' } });
    const events = await keel.events(sessionId);
    expectWholeJournal(events);
    expect(ofType(events, 'tool-approval')).toEqual([expect.objectContaining({ callId: 'toolu_r1', approved: false, approver: 'keel:deadline' })]);
    expect(ofType(events, 'guard-trip')).toEqual([expect.objectContaining({ guard: 'deadline' })]);
    const start = ofType(events, 'session-start')[0];
    const end = ofType(events, 'session-end')[0];
    expect(end?.at).toBeGreaterThanOrEqual(start?.limits.deadlineAt ?? Number.POSITIVE_INFINITY);
    expect(logLines(effects, 'effects.log').filter((line) => line.includes(sessionId))).toEqual([]);
  }, 60_000);

});
