import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { attachInvocation, registerDeployment, sendSession } from '../../src/restate/index.ts';
import { freePort, startRestateServer } from '../helpers/restate-server.ts';
import type { RestateServerProcess } from '../helpers/restate-server.ts';
import { logLines } from './effects.ts';
import { createBiller } from './restate-agents.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { isKeelError } from '../../src/errors/index.ts';
import { expectWholeJournal, here, ofType, startService, waitFor } from './restate-harness.ts';
import type { ServiceProcess } from './restate-harness.ts';

describe('sessions on a real Restate server: a crash of both processes mid-turn', () => {
  let directory: string;
  let database: string;
  let restate: RestateServerProcess;
  let crashService: ServiceProcess | undefined;
  let keel: Keel;

  beforeAll(async () => {
    directory = mkdtempSync(join(tmpdir(), 'keel-restate-crash-'));
    database = join(directory, 'keel.db');
    restate = await startRestateServer(directory);
    keel = createKeel({ database });
  }, 60_000);

  afterAll(async () => {
    await keel?.close();
    await crashService?.stop();
    await restate?.stop();
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  }, 30_000);

  it('completes a session with every effect exactly once after SIGKILL of both the Restate server and the service mid-turn', async () => {
    const sessionId = 'ses_restate_crash';
    const crashEffects = join(directory, 'crash-effects');
    mkdirSync(crashEffects);
    const port = await freePort();
    const serviceArgs = [join(here, 'crash-service.ts'), database, String(port), crashEffects];
    crashService = await startService(serviceArgs, {});
    await registerDeployment({ adminUrl: restate.adminUrl, endpointUrl: crashService.url });
    // Ada's charge applies its effect, then holds: the processes die with it in flight. Bob's, of the same message,
    // runs meanwhile (the calls of one message run at once) and completes, but waits for ada's to be journaled first.
    writeFileSync(join(crashEffects, 'hold-ada'), '');
    const call = { ingressUrl: restate.ingressUrl, serviceName: 'KeelCrashSession', sessionId };
    const invocation = await sendSession(call, { agent: 'biller', task: 'Charge ada, bob and cy.' });
    await waitFor('ada and bob to be charged at once', () => {
      const charged = logLines(crashEffects, 'effects.log');
      return charged.some((line) => line.includes('charge ada')) && charged.some((line) => line.includes('charge bob')) ? true : undefined;
    });
    // Time for the SDK to send bob's finished step to the server.
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The invocation holds Keel's session lease: a resume from another process is refused.
    const elsewhere = await (await keel.resume(createBiller(crashEffects), sessionId, { model: createScriptedModel([]) })).result.catch((error: unknown) => error);
    expect(isKeelError(elsewhere, 'session-busy')).toBe(true);

    await Promise.all([crashService.kill(), restate.kill()]);
    rmSync(join(crashEffects, 'hold-ada'));
    const beforeRestart = await keel.events(sessionId);
    expect(ofType(beforeRestart, 'session-end')).toEqual([]);
    await restate.restart();
    crashService = await startService(serviceArgs, {});

    const result = await attachInvocation({ ingressUrl: restate.ingressUrl }, invocation);
    expect(result).toMatchObject({ sessionId, status: 'completed', output: 'Charged ada, bob and cy.', turns: 3 });

    // Effects, counted outside both processes: each applied once. Ada's call, in flight at the kill, ran again with its
    // key; cy's ran once; each model response was asked for once (the first replayed from Restate's journal).
    const applied = logLines(crashEffects, 'effects.log').map((line) => line.split(' ').slice(1).join(' '));
    expect(applied.sort()).toEqual(['charge ada 1200', 'charge bob 800', 'charge cy 500']);
    const attempts = logLines(crashEffects, 'attempts.log').map((line) => line.split(' ')[2]);
    expect(attempts.filter((customer) => customer === 'ada')).toHaveLength(2);
    expect(attempts.filter((customer) => customer === 'cy')).toHaveLength(1);
    expect(beforeRestart.filter((event) => event.type === 'tool-result')).toEqual([]);
    expect(logLines(crashEffects, 'model-calls.log')).toEqual(['response 1', 'response 2', 'response 3']);

    const events = await keel.events(sessionId);
    expectWholeJournal(events);
    expect(events.slice(0, beforeRestart.length)).toEqual(beforeRestart);
    expect(ofType(events, 'model-response')).toHaveLength(3);
    expect(ofType(events, 'tool-result').map((event) => event.callId)).toEqual(['toolu_01', 'toolu_02', 'toolu_03']);
  }, 90_000);
});
