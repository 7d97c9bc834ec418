import { KeelError } from '../errors/index.ts';
import { checkRetries } from './gates.ts';
import type { Gate, GateOptions } from './gates.ts';
import { checkStepName, executionOf } from './steps.ts';
import { gateKey } from './workflow-journal.ts';
import type { StepOutput, StepScope, StepShape, WorkflowStep } from './workflow-types.ts';

/** Hard cap on a chain's length: a chain is a known, short pipeline. */
const maxChainSteps = 64;

interface ChainEntry {
  readonly step: WorkflowStep<unknown, unknown>;
  readonly gates: readonly { readonly gate: Gate<unknown>; readonly retries: number }[];
}

/** Where a composite step's children live: under its path, and under `path#n` for its attempt n > 1. */
export function childPath(scope: StepScope): string {
  return scope.attempt === 1 ? scope.path : `${scope.path}#${scope.attempt}`;
}

/**
 * Steps in sequence: step N's output is step N+1's input, checked by TypeScript. Gates after a step check its output
 * and send it back (bounded) or stop the chain with a reason. Build with `chain<Input>(name).then(…).gate(…)`.
 */
export class Chain<I, O> implements WorkflowStep<I, O> {
  readonly name: string;
  readonly kind = 'chain' as const;
  private readonly entries: readonly ChainEntry[];

  constructor(name: string, entries: readonly ChainEntry[] = []) {
    checkStepName(name);
    this.name = name;
    this.entries = entries;
  }

  get shape(): StepShape {
    return {
      name: this.name,
      kind: 'chain',
      children: this.entries.map((entry) => ({ ...entry.step.shape, ...(entry.gates.length === 0 ? {} : { detail: entry.gates.map((gate) => `${gate.gate.name}:${gate.retries}`).join(',') }) })),
    };
  }

  /** Appends a step that takes this chain's output as its input. */
  then<N>(next: WorkflowStep<O, N>): Chain<I, N> {
    if (this.entries.length >= maxChainSteps) throw new KeelError('invalid-argument', `Chain ${this.name} has ${maxChainSteps} steps already; split it into nested chains.`);
    if (this.entries.some((entry) => entry.step.name === next.name)) {
      throw new KeelError('invalid-argument', `Chain ${this.name} already has a step named ${next.name}; step names are their journal paths and must be unique within a chain.`);
    }
    return new Chain<I, N>(this.name, [...this.entries, { step: next as WorkflowStep<unknown, unknown>, gates: [] }]);
  }

  /** Checks the last step's output; on failure sends that step back up to `retries` times, then stops the chain. */
  gate(gate: Gate<O>, options: GateOptions = {}): Chain<I, O> {
    const last = this.entries.at(-1);
    if (last === undefined) throw new KeelError('invalid-argument', `Chain ${this.name}: a gate checks the output of the step before it; add a step with then() first.`);
    if (last.gates.some((existing) => existing.gate.name === gate.name)) throw new KeelError('invalid-argument', `Chain ${this.name}: step ${last.step.name} already has a gate named ${gate.name}.`);
    const gated: ChainEntry = { step: last.step, gates: [...last.gates, { gate: gate as Gate<unknown>, retries: checkRetries(options.retries) }] };
    return new Chain<I, O>(this.name, [...this.entries.slice(0, -1), gated]);
  }

  async execute(input: I, scope: StepScope): Promise<StepOutput<O>> {
    if (this.entries.length === 0) throw new KeelError('invalid-argument', `Chain ${this.name} has no steps.`);
    let value: unknown = input;
    for (const entry of this.entries) value = await runGated(entry, value, scope);
    return { output: value as O };
  }
}

/** Runs one step, then its gates; a failing gate reruns the step as the next attempt, with the gate's reason as feedback. */
async function runGated(entry: ChainEntry, input: unknown, scope: StepScope): Promise<unknown> {
  const run = executionOf(scope);
  const parentPath = childPath(scope);
  const stepPath = `${parentPath}/${entry.step.name}`;
  const maxAttempts = 1 + Math.max(0, ...entry.gates.map((gate) => gate.retries));
  let feedback: string | null = null;
  for (let attempt = 1; ; attempt += 1) {
    const output = await run.runChild(entry.step, input, { parentPath, signal: scope.signal, attempt, feedback });
    const rejection = await firstRejection(entry, output, { ...scope, path: stepPath, attempt, feedback });
    if (rejection === null) return output;
    if (rejection.verdict === 'stop') {
      throw new KeelError('gate-rejected', `Gate ${rejection.gate} stopped step ${stepPath} after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${rejection.reason}`, {
        details: { path: stepPath, gate: rejection.gate, attempts: attempt },
      });
    }
    if (attempt >= maxAttempts) throw new KeelError('internal', `Step ${stepPath} was sent back past its gates' retries.`);
    feedback = rejection.reason;
  }
}

/** The gates in order; the first that fails decides (retry while it has retries left, else stop). Verdicts are journaled once. */
async function firstRejection(entry: ChainEntry, output: unknown, stepScope: StepScope): Promise<{ gate: string; verdict: 'retry' | 'stop'; reason: string } | null> {
  const run = executionOf(stepScope);
  for (const { gate, retries } of entry.gates) {
    const recorded = run.writer.record.decisions.get(gateKey(stepScope.path, gate.name, stepScope.attempt));
    let verdict: 'pass' | 'retry' | 'stop';
    let reason: string;
    if (recorded?.type === 'gate') {
      verdict = recorded.verdict;
      reason = recorded.reason;
    } else {
      run.checkBudget(`${stepScope.path} (gate ${gate.name})`);
      const result = await gate.check(output, stepScope);
      if (result.spend !== undefined) run.charge(result.spend);
      verdict = result.pass ? 'pass' : stepScope.attempt <= retries ? 'retry' : 'stop';
      reason = result.reason;
      await run.decide({
        type: 'gate',
        path: stepScope.path,
        gate: gate.name,
        attempt: stepScope.attempt,
        verdict,
        reason,
        ...(result.spend === undefined ? {} : { usage: result.spend.usage, costUsd: result.spend.costUsd }),
      });
    }
    if (verdict !== 'pass') return { gate: gate.name, verdict, reason };
  }
  return null;
}

/**
 * Starts a chain whose first step takes `I`.
 * @example
 * ```ts
 * const report = chain<string>('report')
 *   .then(step('extract', async (text: string) => extractNames(text)))
 *   .gate(predicateGate('found-some', (names: string[]) => names.length > 0 || 'No names found; look again.'), { retries: 1 })
 *   .then(modelStep('write', { prompt: (names: string[]) => `Write one line about each of: ${names.join(', ')}` }));
 * ```
 */
export function chain<I>(name: string): Chain<I, I> {
  return new Chain<I, I>(name);
}
