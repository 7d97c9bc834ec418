import { describe, expect, it } from 'vitest';
import { isKeelError } from '../errors/index.ts';
import { createBubblewrapRunner, createInProcessRunner, createProcessRunner, createWorkerRunner } from '../sandbox/index.ts';
import type { SandboxRunner } from '../sandbox/index.ts';
import { defineJavaScriptTool, defineShellTool } from './code-tools.ts';
import type { ToolContext, ToolDefinition } from './define-tool.ts';

function context(signal: AbortSignal = new AbortController().signal): ToolContext {
  return { sessionId: 'session', turn: 1, callId: 'call', idempotencyKey: 'key', signal };
}

/** Validates as the pipeline does, then executes: what the model's call would get. */
async function call(tool: ToolDefinition, input: unknown, signal?: AbortSignal): Promise<unknown> {
  const parsed = tool.input.safeParse(input);
  if (!parsed.success) throw new Error(`invalid input: ${parsed.error.message}`);
  return tool.execute(parsed.data, context(signal));
}

async function keelCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isKeelError(error)) return error.code;
    throw error;
  }
  throw new Error('expected a KeelError');
}

const bubblewrapAvailable = await createBubblewrapRunner().available();

describe('defineJavaScriptTool', () => {
  it('declares { code, input? } and runs the code in the chosen runner, returning result and console output', async () => {
    const tool = defineJavaScriptTool({ name: 'run_js', description: 'Runs JavaScript.', runner: 'process', limits: { timeoutMs: 20_000, memoryMb: 64 } });
    expect(tool.inputSchema).toMatchObject({ type: 'object', required: ['code'] });
    expect(tool.timeoutMs).toBeGreaterThan(20_000);
    const output = await call(tool, { code: 'console.log("summing"); return input.reduce((a, b) => a + b, 0);', input: [1, 2, 3] });
    expect(output).toEqual({ result: 6, stdout: 'summing\n' });
  });

  it('turns a reached limit into a KeelError that names it', async () => {
    const tool = defineJavaScriptTool({ name: 'run_js', description: 'Runs JavaScript.', runner: 'worker', limits: { timeoutMs: 300 } });
    expect(await keelCodeOf(call(tool, { code: 'for (;;) {}' }))).toBe('tool-timeout');
  });

  it('with the default strongest runner, untrusted code cannot read /etc/shadow', async () => {
    const tool = defineJavaScriptTool({ name: 'run_js', description: 'Runs JavaScript.', limits: { timeoutMs: 20_000 } });
    expect(await keelCodeOf(call(tool, { code: 'return process.getBuiltinModule("node:fs").readFileSync("/etc/shadow", "utf8");' }))).toBe('sandbox-violation');
  });

  it('stops the job when the call is cancelled', async () => {
    const tool = defineJavaScriptTool({ name: 'run_js', description: 'Runs JavaScript.', runner: 'worker', limits: { timeoutMs: 20_000 } });
    const controller = new AbortController();
    const running = call(tool, { code: 'for (;;) {}' }, controller.signal);
    setTimeout(() => controller.abort(), 100);
    expect(await keelCodeOf(running)).toBe('cancelled');
  });

  it('refuses at definition a named runner that cannot hold the limits', () => {
    expect(() => defineJavaScriptTool({ name: 'run_js', description: 'x', runner: 'in-process', runners: [createInProcessRunner()], limits: { timeoutMs: 1_000, memoryMb: 64 } })).toThrow(/cannot enforce memoryMb/);
  });

  it('fails each call with sandbox-unavailable when the named runner is missing, and picks it up once installed', async () => {
    let installed = false;
    const process = createProcessRunner();
    const flaky: SandboxRunner = { ...process, available: () => Promise.resolve(installed) };
    const tool = defineJavaScriptTool({ name: 'run_js', description: 'x', runner: 'process', runners: [flaky, createWorkerRunner()], limits: { timeoutMs: 20_000 } });
    expect(await keelCodeOf(call(tool, { code: 'return 1' }))).toBe('sandbox-unavailable');
    installed = true;
    expect(await call(tool, { code: 'return 1' })).toEqual({ result: 1 });
  });
});

describe('defineShellTool', () => {
  it('fails with a clear sandbox-unavailable when bwrap is missing', async () => {
    const tool = defineShellTool({ name: 'shell', description: 'Runs a command.', runner: createBubblewrapRunner({ bubblewrapPath: '/nonexistent/bwrap' }), limits: { timeoutMs: 5_000 } });
    try {
      await call(tool, { command: ['true'] });
      throw new Error('expected a rejection');
    } catch (error) {
      expect(isKeelError(error, 'sandbox-unavailable')).toBe(true);
      expect((error as Error).message).toContain('apt-get install bubblewrap');
    }
  });

  it.skipIf(!bubblewrapAvailable)('runs { command, stdin } under bubblewrap and returns exit code and output (skipped without bwrap)', async () => {
    const tool = defineShellTool({ name: 'shell', description: 'Runs a command.', limits: { timeoutMs: 20_000 } });
    expect(tool.inputSchema).toMatchObject({ type: 'object', required: ['command'] });
    expect(await call(tool, { command: ['sh', '-c', 'tr a-z A-Z; echo oops >&2; exit 3'], stdin: 'shout' })).toEqual({ exitCode: 3, stdout: 'SHOUT', stderr: 'oops\n' });
    expect(await keelCodeOf(call(tool, { command: ['sh', '-c', 'while :; do :; done'] }, AbortSignal.timeout(300)))).toBe('cancelled');
  });

  it('refuses an empty command before anything runs', () => {
    const tool = defineShellTool({ name: 'shell', description: 'Runs a command.', limits: { timeoutMs: 5_000 } });
    expect(tool.input.safeParse({ command: [] }).success).toBe(false);
  });
});
