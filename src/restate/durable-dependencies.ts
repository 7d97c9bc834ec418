import type { LoopDependencies, ModelCaller } from '../loop/index.ts';
import type { DecideResult, ExecutionOutcome, ToolPipeline } from '../tools/index.ts';
import type { DurableSteps, ErrorJson } from './durable-steps.ts';
import { errorFromJson, errorToJson } from './durable-steps.ts';
import type { RecallingJournal } from './recalling-journal.ts';
import type { StepClock } from './step-clock.ts';

export interface DurableDependencyOptions {
  readonly base: LoopDependencies;
  readonly steps: DurableSteps;
  readonly journal: RecallingJournal;
  readonly clock: StepClock;
}

/**
 * The loop's dependencies with every model call and tool call a durable step, the journal recalling what an earlier
 * attempt stored, and the step clock. The loop itself is unchanged: these are the seams it already injects.
 */
export function durableDependencies(options: DurableDependencyOptions): LoopDependencies {
  const { base, steps } = options;
  const counter = new StepCounter();
  const modelFor = base.modelFor;
  return {
    ...base,
    journal: options.journal,
    clock: options.clock,
    model: durableModel(steps, base.model, () => counter.next('model')),
    ...(base.tools === undefined ? {} : { tools: durablePipeline(steps, base.tools) }),
    ...(modelFor === undefined ? {} : { modelFor: (choice) => durableModel(steps, modelFor(choice), () => counter.next('side-model')) }),
  };
}

/** Step names in the order the loop takes them: the same on every replay, as Restate checks. */
class StepCounter {
  private readonly counts = new Map<string, number>();

  next(kind: string): string {
    const count = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, count);
    return `${kind} ${count}`;
  }
}

function durableModel(steps: DurableSteps, base: ModelCaller, nameNext: () => string): ModelCaller {
  const countTokens = base.countTokens;
  return {
    provider: base.provider,
    modelId: base.modelId,
    call: (request, callOptions) => steps.settle(nameNext(), () => base.call(request, callOptions)),
    // The provider's count decides how the context is planned: recorded, so a replay plans the same context.
    ...(countTokens === undefined ? {} : { countTokens: (request, signal) => steps.run(`${nameNext()} token count`, () => countTokens.call(base, request, signal)) }),
  };
}

type OutcomeJson = { readonly ok: true; readonly output: string; readonly latencyMs: number } | { readonly ok: false; readonly error: ErrorJson; readonly latencyMs: number };
type DecisionJson = Omit<DecideResult, 'error'> & { readonly error: ErrorJson | null };

/**
 * Decisions and executions as durable steps. Calls of one message start together; their outcomes reach the loop in
 * the order the calls started (see `DurableSteps.run`), which is what a replay needs.
 */
function durablePipeline(steps: DurableSteps, base: ToolPipeline): ToolPipeline {
  return {
    async decide(request) {
      const decided = await steps.run(`decide ${request.call.id}`, async (): Promise<DecisionJson> => {
        const result = await base.decide(request);
        return { ...result, error: result.error === null ? null : errorToJson(result.error) };
      });
      return { ...decided, error: decided.error === null ? null : errorFromJson(decided.error) };
    },
    async execute(invocation) {
      const outcome = await steps.run(`tool ${invocation.callId}`, async (): Promise<OutcomeJson> => outcomeToJson(await base.execute(invocation)));
      return outcomeFromJson(outcome);
    },
  };
}

function outcomeToJson(outcome: ExecutionOutcome): OutcomeJson {
  return outcome.ok ? outcome : { ...outcome, error: errorToJson(outcome.error) };
}

function outcomeFromJson(outcome: OutcomeJson): ExecutionOutcome {
  return outcome.ok ? outcome : { ...outcome, error: errorFromJson(outcome.error) };
}
