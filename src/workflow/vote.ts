import { KeelError } from '../errors/index.ts';
import { boundText, canonicalJson } from '../util/index.ts';
import { childPath } from './chain.ts';
import { checkFanOut, fanOut, policyHolds, policyName } from './fan-out.ts';
import type { BranchFailure, FanOutOptions } from './fan-out.ts';
import { checkStepName, executionOf, renamed } from './steps.ts';
import type { StepOutput, StepScope, WorkflowStep } from './workflow-types.ts';

/** One voter's answer. */
export interface Ballot<V> {
  readonly voter: string;
  readonly value: V;
}

/** What a judge sees: the task's input, every answer, and the voters that failed. */
export interface JudgeInput<I, V> {
  readonly input: I;
  readonly ballots: readonly Ballot<V>[];
  readonly failed: readonly BranchFailure[];
}

/** How the answers become one: a strict majority, a share of at least `share`, or a judge step that picks. */
export type Aggregation<I, V> =
  | { readonly method: 'majority' }
  | { readonly method: 'threshold'; readonly share: number }
  | { readonly method: 'judge'; readonly judge: WorkflowStep<JudgeInput<I, V>, V> };

/**
 * More than half of the answers that came back must agree.
 * @example
 * ```ts
 * vote('sentiment', { voter: classifySentiment, voters: 3, aggregate: majority() });
 * ```
 */
export function majority(): { readonly method: 'majority' } {
  return { method: 'majority' };
}

/**
 * At least `share` (0 < share ≤ 1) of the answers that came back must agree; a tie never wins.
 * @example
 * ```ts
 * vote('is-spam', { voter: classifySpam, voters: 5, aggregate: threshold(0.6) });
 * ```
 */
export function threshold(share: number): { readonly method: 'threshold'; readonly share: number } {
  if (!(Number.isFinite(share) && share > 0 && share <= 1)) throw new KeelError('invalid-argument', `A vote threshold is a share from 0 (excluded) to 1, got ${share}.`);
  return { method: 'threshold', share };
}

/**
 * A step (usually a model step) reads every answer and the failed voters, and returns the answer to keep.
 * @example
 * ```ts
 * const pick = modelStep('pick', { prompt: ({ ballots }: JudgeInput<string, string>) => `Pick the best:\n${ballots.map((b) => b.value).join('\n')}` });
 * vote('headline', { voter: writeHeadline, voters: 3, aggregate: judge(pick) });
 * ```
 */
export function judge<I, V>(step: WorkflowStep<JudgeInput<I, V>, V>): Aggregation<I, V> {
  return { method: 'judge', judge: step };
}

/** The vote's outcome: the answer kept, how many agreed with it, and who disagreed or failed. */
export interface VoteResult<V> {
  readonly value: V;
  readonly votes: number;
  /** Answers that came back (failed voters excluded). */
  readonly total: number;
  readonly dissent: readonly Ballot<V>[];
  readonly failed: readonly BranchFailure[];
}

export interface VoteOptions<I, V> extends FanOutOptions {
  /** The task every voter runs. */
  readonly voter: WorkflowStep<I, V>;
  /** How many times it runs, 2 to 64. */
  readonly voters: number;
  readonly aggregate: Aggregation<I, V>;
  /** When two answers are the same answer: canonical JSON by default; give one to ignore case or wording. */
  readonly key?: (value: V) => string;
}

/**
 * Voting: the same task N times at once, aggregated by majority, threshold or a judge. The tally (winner, votes,
 * dissenting voters) is journaled in `parallel-join`; no agreement fails the step with `quorum-not-met`.
 * @example
 * ```ts
 * const verdict = vote('is-spam', { voter: classifySpam, voters: 5, aggregate: threshold(0.6), policy: { quorum: 3 } });
 * ```
 */
export function vote<I, V>(name: string, options: VoteOptions<I, V>): WorkflowStep<I, VoteResult<V>> {
  checkStepName(name);
  checkFanOut(name, options.voters, options);
  if (!Number.isSafeInteger(options.voters) || options.voters < 2) throw new KeelError('invalid-argument', `Vote ${name} needs at least 2 voters, got ${options.voters}.`);
  const voters = Array.from({ length: options.voters }, (_, index) => renamed(options.voter, `${options.voter.name}.${index + 1}`));
  const policy = options.policy ?? 'all';
  const aggregate = options.aggregate;
  const keyOf = options.key ?? ((value: V) => canonicalJson(value));
  return {
    name,
    kind: 'vote',
    shape: {
      name,
      kind: 'vote',
      detail: `${options.voters};${policyName(policy)};${aggregate.method}${aggregate.method === 'threshold' ? `:${aggregate.share}` : ''}`,
      children: [options.voter.shape, ...(aggregate.method === 'judge' ? [{ ...aggregate.judge.shape, detail: 'judge' }] : [])],
    },
    async execute(input: I, scope: StepScope): Promise<StepOutput<VoteResult<V>>> {
      const run = executionOf(scope);
      const outcomes = await fanOut(
        voters.map((voter) => ({ step: voter as WorkflowStep<unknown, unknown>, resources: [] })),
        input,
        scope,
        options,
      );
      const ballots: Ballot<V>[] = [];
      const failed: BranchFailure[] = [];
      for (const outcome of outcomes) {
        if (outcome.ok) ballots.push({ voter: outcome.branch, value: outcome.output as V });
        else failed.push(outcome.failure);
      }
      const path = childPath(scope);
      if (!policyHolds(policy, ballots.length, outcomes.length)) {
        const reason = `${ballots.length} of ${outcomes.length} voters answered, not enough for ${policyName(policy)}.`;
        await run.decide({ type: 'parallel-join', path, policy: policyName(policy), succeeded: ballots.map((ballot) => ballot.voter), failed, proceed: false, reason });
        throw new KeelError('quorum-not-met', `Vote ${scope.path}: ${reason}`, { details: { failed } });
      }
      const chosen =
        aggregate.method === 'judge'
          ? { value: await run.runChild(aggregate.judge, { input, ballots, failed }, { parentPath: path, signal: scope.signal }), reason: 'The judge picked it.' }
          : tally(ballots, keyOf, aggregate);
      const winnerKey = chosen.value === undefined ? null : keyOf(chosen.value);
      const agreeing = winnerKey === null ? [] : ballots.filter((ballot) => keyOf(ballot.value) === winnerKey);
      const dissent = ballots.filter((ballot) => !agreeing.includes(ballot));
      const proceed = chosen.value !== undefined;
      const join = await run.decide({
        type: 'parallel-join',
        path,
        policy: policyName(policy),
        succeeded: ballots.map((ballot) => ballot.voter),
        failed,
        vote: { method: aggregate.method, winner: winnerKey === null ? null : boundText(winnerKey, 200), votes: agreeing.length, total: ballots.length, dissent: dissent.map((ballot) => ballot.voter), reason: chosen.reason },
        proceed,
        reason: chosen.reason,
      });
      if (!join.proceed || chosen.value === undefined) throw new KeelError('quorum-not-met', `Vote ${scope.path}: ${join.reason}`, { details: { failed } });
      return { output: { value: chosen.value, votes: agreeing.length, total: ballots.length, dissent, failed } };
    },
  };
}

/** Counts answers by key; the most common wins if it has a strict majority or the threshold share. */
function tally<V>(ballots: readonly Ballot<V>[], keyOf: (value: V) => string, aggregate: { method: 'majority' } | { method: 'threshold'; share: number }): { value: V | undefined; reason: string } {
  const counts = new Map<string, { count: number; value: V }>();
  for (const ballot of ballots) {
    const key = keyOf(ballot.value);
    const entry = counts.get(key);
    if (entry === undefined) counts.set(key, { count: 1, value: ballot.value });
    else entry.count += 1;
  }
  const ranked = [...counts.entries()].sort((left, right) => right[1].count - left[1].count);
  const [topKey, top] = ranked[0] ?? [];
  const summary = ranked.slice(0, 5).map(([key, entry]) => `${boundText(key, 60)}: ${entry.count}`).join(', ');
  if (top === undefined || topKey === undefined) return { value: undefined, reason: 'No voter answered.' };
  const tied = (ranked[1]?.[1].count ?? 0) === top.count;
  const wins = aggregate.method === 'majority' ? top.count * 2 > ballots.length : !tied && top.count >= aggregate.share * ballots.length;
  if (wins) return { value: top.value, reason: `${top.count} of ${ballots.length} answers agree (${aggregate.method === 'majority' ? 'majority' : `threshold ${aggregate.share}`}): ${summary}.` };
  return { value: undefined, reason: `No answer reached the ${aggregate.method === 'majority' ? 'majority' : `threshold ${aggregate.share}`} of ${ballots.length} answers: ${summary}.` };
}
