import type { KeelError } from '../errors/index.ts';
import type { RunnerName, SandboxLimits } from './sandbox.ts';
import { defaultOutputBytes } from './sandbox.ts';
import { jobFailedError, memoryLimitError, notSerialisableError, resultTooLargeError, violationError } from './sandbox-errors.ts';

/** What `process-program.mjs` and `worker-program.mjs` send back: one message per job. */
export type JobMessage =
  | { readonly type: 'result'; readonly json: string; readonly cpuMs?: number; readonly peakMemoryMb?: number }
  | { readonly type: 'error' | 'not-serialisable'; readonly error: JobErrorRecord; readonly cpuMs?: number; readonly peakMemoryMb?: number };

export interface JobErrorRecord {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly permission?: string;
  readonly resource?: string;
}

/** The message comes from the process that ran untrusted code, so it is checked field by field, not cast. */
export function parseJobMessage(message: unknown): JobMessage | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const record = message as Record<string, unknown>;
  const usage = {
    ...(typeof record.cpuMs === 'number' ? { cpuMs: record.cpuMs } : {}),
    ...(typeof record.peakMemoryMb === 'number' ? { peakMemoryMb: record.peakMemoryMb } : {}),
  };
  if (record.type === 'result' && typeof record.json === 'string') return { type: 'result', json: record.json, ...usage };
  if ((record.type === 'error' || record.type === 'not-serialisable') && typeof record.error === 'object' && record.error !== null) {
    const error = record.error as Record<string, unknown>;
    const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
    return {
      type: record.type,
      error: {
        name: text(error.name) ?? 'Error',
        message: text(error.message) ?? '',
        ...(text(error.code) === undefined ? {} : { code: text(error.code) }),
        ...(text(error.permission) === undefined ? {} : { permission: text(error.permission) }),
        ...(text(error.resource) === undefined ? {} : { resource: text(error.resource) }),
      },
      ...usage,
    };
  }
  return undefined;
}

/**
 * Turns the job's message into its value, or into the KeelError that says why there is none. `memoryHow` says how
 * the runner bounds memory, for the message when an allocation failed against that bound.
 */
export function settleJobMessage(
  runner: RunnerName,
  message: JobMessage,
  limits: SandboxLimits,
  memoryHow: string,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: KeelError } {
  if (message.type === 'result') {
    const outputBytes = limits.outputBytes ?? defaultOutputBytes;
    const size = Buffer.byteLength(message.json);
    if (size > outputBytes) return { ok: false, error: resultTooLargeError(runner, outputBytes, size) };
    return { ok: true, value: JSON.parse(message.json) as unknown };
  }
  const { error } = message;
  if (message.type === 'not-serialisable') return { ok: false, error: notSerialisableError(runner, error.message) };
  if (error.code === 'ERR_ACCESS_DENIED') {
    return { ok: false, error: violationError(runner, error.permission ?? 'access', error.resource ?? '', error.message) };
  }
  // How V8 (Node 20) and Node (24, ERR_MEMORY_ALLOCATION_FAILED) report a backing store that could not be
  // allocated: under a memory limit, that limit is why.
  const allocationFailed = error.code === 'ERR_MEMORY_ALLOCATION_FAILED' || (error.name === 'RangeError' && error.message.includes('Array buffer allocation failed'));
  if (limits.memoryMb !== undefined && allocationFailed) {
    return { ok: false, error: memoryLimitError(runner, limits.memoryMb, memoryHow) };
  }
  return { ok: false, error: jobFailedError(runner, error.name, error.message) };
}
