import { KeelError } from '../errors/index.ts';
import { childPath } from './chain.ts';
import { checkFanOut, fanOut, policyHolds, policyName } from './fan-out.ts';
import type { BranchFailure, FanOutOptions } from './fan-out.ts';
import { checkStepName, executionOf, renamed } from './steps.ts';
import type { StepOutput, StepScope, WorkflowStep } from './workflow-types.ts';

/** What the join hands on: each succeeded branch's output by name, and the branches that failed. */
export interface ParallelResults<I, R> {
  readonly input: I;
  readonly results: Partial<R>;
  readonly succeeded: readonly (keyof R & string)[];
  readonly failed: readonly BranchFailure[];
}

export interface ParallelOptions<I, R extends Record<string, unknown>, O> extends FanOutOptions {
  /** Different subtasks of the same input (sectioning); the key names the branch in results and in the journal. */
  readonly branches: { readonly [K in keyof R]: WorkflowStep<I, R[K]> };
  /**
   * Lock keys of the resources each branch writes: branches that share a key run one after the other, so two
   * read-modify-writes of one record cannot lose an update. Branches without keys run freely.
   */
  readonly resources?: { readonly [K in keyof R]?: readonly string[] };
  /**
   * Joins the results; it is told which branches failed (`failed`) so it can say what is missing. Also the place for
   * a merge rule: branches return their changes and the synthesis applies them once, in one write.
   */
  readonly synthesize?: WorkflowStep<ParallelResults<I, R>, O>;
}

/**
 * Sectioning: different subtasks run at once (scatter), with a fan-out limit, per-branch timeouts and a failure
 * policy (all, quorum, best effort); the join is journaled as `parallel-join`, and the synthesis step (gather) is
 * told which branches failed.
 * @example
 * ```ts
 * const review = parallel('review', {
 *   branches: { legal: legalStep, financial: financialStep, technical: technicalStep },
 *   policy: { quorum: 2 },
 *   branchTimeoutMs: 60_000,
 *   synthesize: modelStep('synthesize', { prompt: ({ results, failed }) => `Combine: ${JSON.stringify(results)}; missing: ${failed.map((f) => f.branch).join(', ')}` }),
 * });
 * ```
 */
export function parallel<I, R extends Record<string, unknown>, O = ParallelResults<I, R>>(name: string, options: ParallelOptions<I, R, O>): WorkflowStep<I, O> {
  checkStepName(name);
  const entries = (Object.entries(options.branches) as [keyof R & string, WorkflowStep<I, unknown>][]).map(([key, branch]) => [key, renamed(branch, key)] as const);
  checkFanOut(name, entries.length, options);
  if (options.synthesize !== undefined && Object.hasOwn(options.branches, options.synthesize.name)) {
    throw new KeelError('invalid-argument', `Parallel step ${name}: the synthesis step may not share the name ${options.synthesize.name} with a branch.`);
  }
  const policy = options.policy ?? 'all';
  return {
    name,
    kind: 'parallel',
    shape: {
      name,
      kind: 'parallel',
      detail: `${policyName(policy)};resources=${JSON.stringify(options.resources ?? {})}`,
      children: [...entries.map(([, branch]) => branch.shape), ...(options.synthesize === undefined ? [] : [{ ...options.synthesize.shape, detail: 'synthesize' }])],
    },
    async execute(input: I, scope: StepScope): Promise<StepOutput<O>> {
      const run = executionOf(scope);
      const branches = entries.map(([key, branch]) => ({ step: branch as WorkflowStep<unknown, unknown>, resources: options.resources?.[key] ?? [] }));
      const outcomes = await fanOut(branches, input, scope, options);
      const results: Partial<Record<string, unknown>> = {};
      const succeeded: (keyof R & string)[] = [];
      const failed: BranchFailure[] = [];
      for (const outcome of outcomes) {
        if (outcome.ok) {
          results[outcome.branch] = outcome.output;
          succeeded.push(outcome.branch as keyof R & string);
        } else failed.push(outcome.failure);
      }
      const proceed = policyHolds(policy, succeeded.length, outcomes.length);
      const reason = proceed
        ? failed.length === 0
          ? `All ${outcomes.length} branches succeeded.`
          : `${succeeded.length} of ${outcomes.length} branches succeeded, enough for ${policyName(policy)}.`
        : `${succeeded.length} of ${outcomes.length} branches succeeded, not enough for ${policyName(policy)}: ${failed.map((failure) => `${failure.branch} ${failure.status}${failure.error === null ? '' : ` (${failure.error.code}: ${failure.error.message})`}`).join('; ')}`;
      const join = await run.decide({ type: 'parallel-join', path: childPath(scope), policy: policyName(policy), succeeded, failed, proceed, reason });
      if (!join.proceed) throw new KeelError('quorum-not-met', `Parallel step ${scope.path}: ${join.reason}`, { details: { failed: join.failed } });
      const joined: ParallelResults<I, R> = { input, results: results as Partial<R>, succeeded, failed };
      if (options.synthesize === undefined) return { output: joined as O };
      return { output: await run.runChild(options.synthesize, joined, { parentPath: childPath(scope), signal: scope.signal }) };
    },
  };
}
