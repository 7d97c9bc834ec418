import { KeelError } from '../errors/index.ts';
import type { RunnerName } from './sandbox.ts';

// Every error a runner raises names the runner and the limit, so the model (which sees the message) and the
// operator (who sees `details`) can tell a job that was too slow from one that was too big or that broke a rule.

/** `stopped` is false only for the in-process runner, which can stop waiting but not the code. */
export function timeoutError(runner: RunnerName, timeoutMs: number, stopped = true): KeelError {
  const ending = stopped ? 'was stopped' : 'was abandoned (it may still be running in the host)';
  return new KeelError('tool-timeout', `The job in the ${runner} sandbox did not finish within its wall-clock limit of ${timeoutMs} ms (timeoutMs) and ${ending}.`, {
    details: { runner, limit: 'timeoutMs', value: timeoutMs },
  });
}

export function memoryLimitError(runner: RunnerName, memoryMb: number, how: string, cause?: unknown): KeelError {
  return new KeelError('sandbox-limit', `The job in the ${runner} sandbox ran out of its memory limit of ${memoryMb} MiB (memoryMb, ${how}).`, {
    cause,
    details: { runner, limit: 'memoryMb', value: memoryMb, enforcedBy: how },
  });
}

export function cpuLimitError(runner: RunnerName, cpuTimeMs: number, how: string): KeelError {
  return new KeelError('sandbox-limit', `The job in the ${runner} sandbox used up its CPU-time limit of ${cpuTimeMs} ms (cpuTimeMs, ${how}) and was stopped.`, {
    details: { runner, limit: 'cpuTimeMs', value: cpuTimeMs, enforcedBy: how },
  });
}

/** `actualBytes` is unknown when the answer was cut off as soon as it could no longer fit. */
export function resultTooLargeError(runner: RunnerName, outputBytes: number, actualBytes: number | undefined): KeelError {
  const size = actualBytes === undefined ? 'a result far larger than' : `${actualBytes} bytes of JSON, over`;
  return new KeelError('sandbox-limit', `The job in the ${runner} sandbox returned ${size} its output limit of ${outputBytes} bytes (outputBytes).`, {
    details: { runner, limit: 'outputBytes', value: outputBytes, actualBytes },
  });
}

/** The job tried something its sandbox forbids (Node's permission model reports `ERR_ACCESS_DENIED`). */
export function violationError(runner: RunnerName, permission: string, resource: string, message: string): KeelError {
  const what = resource === '' ? permission : `${permission} on ${resource}`;
  return new KeelError('sandbox-violation', `The ${runner} sandbox denied ${what}: ${message}`, {
    details: { runner, permission, resource },
  });
}

export function crashedError(runner: RunnerName, description: string, stderrTail: string): KeelError {
  const tail = stderrTail.trim() === '' ? '' : ` Last output on stderr: ${stderrTail.trim()}`;
  return new KeelError('sandbox-crashed', `The ${runner} sandbox ended without a result (${description}).${tail}`, {
    details: { runner, description },
  });
}

/** The code itself threw: that is the job's failure, reported to the model like any failing tool. */
export function jobFailedError(runner: RunnerName, name: string, message: string): KeelError {
  return new KeelError('tool-failed', `The code in the ${runner} sandbox threw ${name}: ${message}`, { details: { runner } });
}

/** Cancellation keeps the caller's own KeelError (a pipeline timeout, say); anything else becomes `cancelled`. */
export function abortedError(runner: RunnerName, reason: unknown, stopped = true): KeelError {
  if (reason instanceof KeelError) return reason;
  const ending = stopped ? 'stopped' : 'abandoned (it may still be running in the host)';
  return new KeelError('cancelled', `The job in the ${runner} sandbox was cancelled and ${ending}.`, { cause: reason, details: { runner } });
}

export function notSerialisableError(runner: RunnerName, message: string): KeelError {
  return new KeelError('tool-failed', `The code in the ${runner} sandbox returned a value that is not JSON-serialisable: ${message}`, {
    details: { runner },
  });
}
