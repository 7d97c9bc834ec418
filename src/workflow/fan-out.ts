import { KeelError, toKeelError } from '../errors/index.ts';
import { linkedSignal } from '../util/index.ts';
import type { ErrorRecord, StepStatus } from '../spec/events.ts';
import { childPath } from './chain.ts';
import { executionOf } from './steps.ts';
import { StepFailure, stepFailure } from './workflow-execution.ts';
import type { StepScope, WorkflowStep } from './workflow-types.ts';

/** How many branches may fail: `all` must succeed, `{ quorum: n }` at least n, `best-effort` at least one. */
export type FailurePolicy = 'all' | 'best-effort' | { readonly quorum: number };

/** A branch that did not succeed, as the synthesis step and the `parallel-join` event see it. */
export interface BranchFailure {
  readonly branch: string;
  readonly status: StepStatus;
  readonly error: ErrorRecord | null;
}

export interface FanOutOptions {
  /** Branches running at once. Default 4, at most 32. */
  readonly maxConcurrency?: number;
  /** Each branch's own time limit; a branch over it fails with status `timeout`. */
  readonly branchTimeoutMs?: number;
  readonly policy?: FailurePolicy;
}

export interface FanOutBranch {
  readonly step: WorkflowStep<unknown, unknown>;
  /** Lock keys: branches sharing a key run one after the other. */
  readonly resources: readonly string[];
}

/** The most branches one parallel step may have: every branch is a journaled step and, often, a model call. */
export const maxBranches = 64;
const defaultConcurrency = 4;
const maxConcurrencyLimit = 32;

export function checkFanOut(name: string, branchCount: number, options: FanOutOptions): void {
  if (branchCount === 0) throw new KeelError('invalid-argument', `Parallel step ${name} has no branches.`);
  if (branchCount > maxBranches) throw new KeelError('invalid-argument', `Parallel step ${name} has ${branchCount} branches; at most ${maxBranches} are allowed (fan-out costs a model call each).`);
  const concurrency = options.maxConcurrency ?? defaultConcurrency;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > maxConcurrencyLimit) {
    throw new KeelError('invalid-argument', `Parallel step ${name}: maxConcurrency must be an integer from 1 to ${maxConcurrencyLimit}, got ${String(options.maxConcurrency)}.`);
  }
  const timeout = options.branchTimeoutMs;
  if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) throw new KeelError('invalid-argument', `Parallel step ${name}: branchTimeoutMs must be a positive number of milliseconds, got ${String(timeout)}.`);
  const policy = options.policy ?? 'all';
  if (typeof policy === 'object' && !(Number.isSafeInteger(policy.quorum) && policy.quorum >= 1 && policy.quorum <= branchCount)) {
    throw new KeelError('invalid-argument', `Parallel step ${name}: a quorum must be an integer from 1 to its ${branchCount} branches, got ${String(policy.quorum)}.`);
  }
}

export function policyName(policy: FailurePolicy): string {
  return typeof policy === 'string' ? policy : `quorum:${policy.quorum}`;
}

/** Whether enough branches succeeded for the policy. */
export function policyHolds(policy: FailurePolicy, succeeded: number, total: number): boolean {
  if (policy === 'all') return succeeded === total;
  if (policy === 'best-effort') return succeeded >= 1;
  return succeeded >= policy.quorum;
}

export type BranchOutcome = { readonly branch: string; readonly ok: true; readonly output: unknown } | { readonly branch: string; readonly ok: false; readonly failure: BranchFailure };

/**
 * Runs the branches under the parallel step's path, `maxConcurrency` at a time, each under its own timeout and the
 * locks of its resources. Under the policy `all`, the first failure cancels the branches still running: the step
 * fails anyway. The caller's cancel cancels every branch and is rethrown.
 */
export async function fanOut(branches: readonly FanOutBranch[], input: unknown, scope: StepScope, options: FanOutOptions): Promise<BranchOutcome[]> {
  const run = executionOf(scope);
  const parentPath = childPath(scope);
  const policy = options.policy ?? 'all';
  const siblingsStop = new AbortController();
  const outcomes: BranchOutcome[] = new Array<BranchOutcome>(branches.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let index = next++; index < branches.length; index = next++) {
      const branch = branches[index] as FanOutBranch;
      const name = branch.step.name;
      if (siblingsStop.signal.aborted) {
        outcomes[index] = { branch: name, ok: false, failure: { branch: name, status: 'cancelled', error: toKeelError(siblingsStop.signal.reason).toRecord() } };
        continue;
      }
      const timeoutMs = options.branchTimeoutMs;
      const linked = linkedSignal([scope.signal, siblingsStop.signal], timeoutMs, () => new KeelError('deadline-exceeded', `Branch ${parentPath}/${name} took longer than its ${timeoutMs} ms timeout.`));
      try {
        const output = await run.services.locks.withLocks(branch.resources, () => run.runChild(branch.step, input, { parentPath, signal: linked.signal }));
        outcomes[index] = { branch: name, ok: true, output };
      } catch (thrown) {
        const failure = thrown instanceof StepFailure ? thrown : stepFailure(`${parentPath}/${name}`, thrown, linked.signal);
        outcomes[index] = { branch: name, ok: false, failure: { branch: name, status: failure.status, error: failure.record } };
        if (policy === 'all' && !siblingsStop.signal.aborted) siblingsStop.abort(new KeelError('cancelled', `Branch ${parentPath}/${name} failed and the policy needs every branch: the others were cancelled.`));
      } finally {
        linked.dispose();
      }
    }
  };
  const concurrency = Math.min(options.maxConcurrency ?? defaultConcurrency, branches.length);
  await Promise.all(Array.from({ length: concurrency }, () => worker()));
  if (scope.signal.aborted) throw scope.signal.reason as Error;
  return outcomes;
}
