import { z } from 'zod';
import { assertRunnable, createBubblewrapRunner, createRunners, selectRunner } from '../sandbox/index.ts';
import type { RunnerPreference, SandboxLimits, SandboxResult, SandboxRunner } from '../sandbox/index.ts';
import { defineTool } from './define-tool.ts';
import type { ToolDefinition, ToolRisk } from './define-tool.ts';

/**
 * The tool's own deadline sits above the sandbox's, so the sandbox's timeout (which names the limit and kills the
 * job) is what normally ends a slow job; the tool deadline only catches a runner that failed to stop in time.
 */
const toolDeadlineMarginMs = 5_000;

interface CodeToolOptions {
  readonly name: string;
  readonly description: string;
  readonly limits: SandboxLimits;
  /** Defaults to `write`: code can change files in its work folder. */
  readonly risk?: ToolRisk;
  readonly scopes?: readonly string[];
}

export interface JavaScriptToolOptions extends CodeToolOptions {
  /**
   * Defaults to `strongest`: a runner that contains untrusted code (bubblewrap), or a `sandbox-unavailable` error
   * naming what is missing here; never a weaker runner. Name `process`, `worker` or `in-process` only for trusted code.
   */
  readonly runner?: RunnerPreference;
  /** Refuse a named runner that cannot contain untrusted code. Implied by `strongest`. */
  readonly untrusted?: boolean;
  /** Defaults to every runner Keel has. */
  readonly runners?: readonly SandboxRunner[];
}

export interface ShellToolOptions extends CodeToolOptions {
  /** Defaults to a bubblewrap runner; a shell command runs nowhere else. */
  readonly runner?: SandboxRunner;
}

const javaScriptInput = z.object({
  code: z.string().min(1).describe('The body of an async JavaScript function. It receives `input`; what it returns (JSON-serialisable) is the result. console output is returned too.'),
  input: z.unknown().optional().describe('Passed to the code as `input`.'),
});

const shellInput = z.object({
  command: z.array(z.string()).min(1).describe('The program and its arguments, as separate strings; no shell unless you run one (["sh", "-c", "..."]).'),
  stdin: z.string().optional().describe('Text sent to the command on standard input.'),
});

/**
 * A tool that runs JavaScript written by the model in a sandbox. The runner is chosen at the first call and kept;
 * a named runner that cannot hold the limits fails here, at definition, and one missing on this machine fails each
 * call with `sandbox-unavailable` (which says how to get it). Limits reached come back as KeelErrors that name them.
 * @example
 * ```ts
 * const runJavaScript = defineJavaScriptTool({
 *   name: 'run_javascript',
 *   description: 'Runs JavaScript to compute an exact answer (arithmetic, dates, parsing).',
 *   limits: { timeoutMs: 10_000, memoryMb: 256 },
 * });
 * const agent = defineAgent({ name: 'analyst', instructions: 'Compute, do not guess.', tools: [runJavaScript] });
 * ```
 */
export function defineJavaScriptTool(options: JavaScriptToolOptions): ToolDefinition {
  const runners = options.runners ?? createRunners();
  const preference = options.runner ?? 'strongest';
  // What can be checked without starting anything fails now; availability is checked at the first call.
  const named = runners.find((runner) => runner.name === preference);
  if (named !== undefined) assertRunnable(named, 'javascript', options.limits);
  let chosen: Promise<SandboxRunner> | undefined;
  return defineTool({
    name: options.name,
    description: options.description,
    input: javaScriptInput,
    ...(options.risk === undefined ? {} : { risk: options.risk }),
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    timeoutMs: options.limits.timeoutMs + toolDeadlineMarginMs,
    execute: async ({ code, input }, { signal }) => {
      chosen ??= selectRunner(preference, runners, 'javascript', options.limits, { untrusted: options.untrusted === true });
      const runner = await chosen.catch((error: unknown) => {
        chosen = undefined; // Installing the missing runner should not need a restart.
        throw error;
      });
      const result = await runner.run({ kind: 'javascript', code, input }, options.limits, signal);
      return { result: result.value, ...logs(result) };
    },
  });
}

/**
 * A tool that runs a command under bubblewrap: no network, a private work folder, the limits given.
 * @example
 * ```ts
 * const shell = defineShellTool({
 *   name: 'shell',
 *   description: 'Runs a command in a private work folder, without network access.',
 *   limits: { timeoutMs: 30_000, memoryMb: 512, readPaths: ['/srv/logs'] },
 *   risk: 'read',
 * });
 * ```
 */
export function defineShellTool(options: ShellToolOptions): ToolDefinition {
  const runner = options.runner ?? createBubblewrapRunner();
  assertRunnable(runner, 'command', options.limits);
  return defineTool({
    name: options.name,
    description: options.description,
    input: shellInput,
    ...(options.risk === undefined ? {} : { risk: options.risk }),
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    timeoutMs: options.limits.timeoutMs + toolDeadlineMarginMs,
    execute: async ({ command, stdin }, { signal }) => {
      const result = await runner.run({ kind: 'command', argv: command, ...(stdin === undefined ? {} : { stdin }) }, options.limits, signal);
      return { exitCode: result.exitCode, ...logs(result) };
    },
  });
}

/** Empty streams are left out: they are noise in the model's context. */
function logs(result: SandboxResult): { stdout?: string; stderr?: string } {
  return { ...(result.stdout === '' ? {} : { stdout: result.stdout }), ...(result.stderr === '' ? {} : { stderr: result.stderr }) };
}
