import { KeelError } from '../errors/index.ts';
import { parseJobMessage, settleJobMessage } from './job-message.ts';
import { isHeapExhaustion } from './node-permission.ts';
import { cpuLimitExitCode } from './resource-limits.ts';
import { defaultOutputBytes } from './sandbox.ts';
import type { RunnerName, SandboxLimits, SandboxResult } from './sandbox.ts';
import { abortedError, cpuLimitError, crashedError, memoryLimitError, resultTooLargeError, timeoutError } from './sandbox-errors.ts';
import type { SupervisedProcessOutcome } from './supervised-process.ts';

export interface Enforcement {
  /** How the CPU-time limit is enforced, for the error message: `prlimit (RLIMIT_CPU)` or the /proc watchdog. */
  readonly cpu: string;
  readonly memory: string;
  /** True when the kernel's hard CPU limit (a SIGKILL) is in force, so an unexplained SIGKILL is that limit. */
  readonly cpuHardLimitKills: boolean;
}

/**
 * The result of a Node job run in a separate process (process and bubblewrap runners), or the KeelError that says
 * which limit ended it. Limits the supervisor enforced itself are certain; the rest is read from how the process
 * ended, in order of how specific the evidence is.
 */
export function settleNodeJob(
  runner: RunnerName,
  outcome: SupervisedProcessOutcome,
  limits: SandboxLimits,
  enforcement: Enforcement,
  signal: AbortSignal | undefined,
): SandboxResult {
  const { stoppedBy } = outcome;
  if (stoppedBy === 'abort') throw abortedError(runner, signal?.reason);
  if (stoppedBy === 'timeout') throw timeoutError(runner, limits.timeoutMs);
  if (stoppedBy === 'watchdog:cpu' && limits.cpuTimeMs !== undefined) throw cpuLimitError(runner, limits.cpuTimeMs, enforcement.cpu);
  if (stoppedBy === 'watchdog:memory' && limits.memoryMb !== undefined) throw memoryLimitError(runner, limits.memoryMb, enforcement.memory);
  if (stoppedBy === 'answer-too-large') {
    const outputBytes = limits.outputBytes ?? defaultOutputBytes;
    throw resultTooLargeError(runner, outputBytes, undefined);
  }
  const message = parseJobMessage(outcome.answer);
  if (message !== undefined) {
    const settled = settleJobMessage(runner, message, limits, enforcement.memory);
    if (!settled.ok) throw settled.error;
    return {
      value: settled.value,
      stdout: outcome.stdout.text(),
      stderr: outcome.stderr.text(),
      durationMs: outcome.durationMs,
      ...(message.cpuMs === undefined ? {} : { cpuMs: message.cpuMs }),
      ...(message.peakMemoryMb === undefined ? {} : { peakMemoryMb: message.peakMemoryMb }),
    };
  }
  if (outcome.spawnError !== undefined) {
    throw new KeelError('sandbox-unavailable', `The ${runner} sandbox could not start: ${outcome.spawnError.message}`, { cause: outcome.spawnError });
  }
  const stderrTail = outcome.stderr.tail();
  // prlimit execs node, so node itself gets SIGXCPU; under bubblewrap the signal arrives as exit status 128 + 24.
  // A job that ignores SIGXCPU gets the kernel's SIGKILL one second later, at the hard limit. A SIGKILL can also come
  // from the job itself or the kernel's OOM killer: it is taken for the CPU limit only when the job ran long enough
  // to have spent it (half the limit in wall time leaves room for a few threads burning CPU at once).
  const killedLate = limits.cpuTimeMs !== undefined && outcome.durationMs >= limits.cpuTimeMs / 2;
  const cpuSignalled =
    outcome.exitSignal === 'SIGXCPU' ||
    outcome.exitCode === cpuLimitExitCode ||
    (enforcement.cpuHardLimitKills && killedLate && (outcome.exitSignal === 'SIGKILL' || outcome.exitCode === 128 + 9));
  if (limits.cpuTimeMs !== undefined && cpuSignalled) throw cpuLimitError(runner, limits.cpuTimeMs, enforcement.cpu);
  if (limits.memoryMb !== undefined && isHeapExhaustion(stderrTail)) throw memoryLimitError(runner, limits.memoryMb, enforcement.memory);
  const ending = outcome.exitSignal === null ? `exit code ${outcome.exitCode}` : `signal ${outcome.exitSignal}`;
  throw crashedError(runner, `the process ended with ${ending} before returning a result`, stderrTail.slice(-1_000));
}

/**
 * The cap on the answer line for a result limit of `outputBytes`: the result's JSON travels escaped inside the
 * answer, which at most doubles it (JSON text holds no raw control characters), plus room for the envelope.
 */
export function answerBytesFor(outputBytes: number): number {
  return 2 * outputBytes + 64 * 1024;
}

/** The job as the child reads it from stdin; input that JSON cannot carry is the caller's error, found here. */
export function encodeNodeJob(code: string, input: unknown): string {
  try {
    return JSON.stringify({ code, input });
  } catch (error) {
    throw new KeelError('invalid-argument', `The job's input is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
