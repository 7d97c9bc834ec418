import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';

/* Shared by the Restate test files: service processes, the CLI, and the journal checks. */

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const here = fileURLToPath(new URL('.', import.meta.url));

export interface ServiceProcess {
  readonly url: string;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

/** A service process (node with tsx), ready once it prints a JSON line with its URL. */
export async function startService(args: readonly string[], env: Record<string, string>): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors = `${errors}${chunk.toString()}`.slice(-4_000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`service did not start within 30 s: ${errors}`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line === undefined) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited with ${String(code)} before listening: ${errors}`));
    });
  });
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(name);
    await exited;
  };
  return { url, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

/** Runs the CLI (node with tsx, from the sources) and collects its output. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'keel.js'), ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function pending(ingressUrl: string, sessionId: string): Promise<readonly string[]> {
  const response = await fetch(`${ingressUrl}/KeelSession/${sessionId}/pending`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' });
  return (await response.json()) as readonly string[];
}

export function ofType<T extends SessionEvent['type']>(events: readonly SessionEvent[], type: T): Extract<SessionEvent, { type: T }>[] {
  return events.filter((event): event is Extract<SessionEvent, { type: T }> => event.type === type);
}

/** No lost and no duplicated event: contiguous sequence numbers, one start and end, one request and outcome per call. */
export function expectWholeJournal(events: readonly SessionEvent[]): void {
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
  expect(validateJournal(events).problems).toEqual([]);
  expect(ofType(events, 'session-start')).toHaveLength(1);
  expect(ofType(events, 'session-end')).toHaveLength(1);
  const requests = ofType(events, 'tool-request').map((event) => event.callId);
  expect(new Set(requests).size).toBe(requests.length);
  const outcomes = events.filter((event) => event.type === 'tool-result' || event.type === 'tool-error').map((event) => (event as { callId: string }).callId);
  expect([...outcomes].sort()).toEqual([...requests].sort());
}

