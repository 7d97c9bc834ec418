import { KeelError } from '../errors/index.ts';
import type { Model } from '../spec/model.ts';
import type { Usage } from '../spec/usage.ts';
import { costOf } from '../model/pricing.ts';
import type { LoopContext } from './loop-context.ts';
import type { ModelCaller } from './loop-types.ts';

/**
 * The caller of a side model (the verifier, a quarantined reader): through the runtime's `modelFor` (gateway,
 * retries, registered names) when the loop has one, else a `Model` object called directly. A spec string needs the
 * runtime to resolve it.
 */
export function sideModelCaller(context: LoopContext, choice: string | Model, role: string): ModelCaller {
  const { dependencies } = context;
  if (dependencies.modelFor !== undefined) return dependencies.modelFor(choice);
  if (typeof choice === 'string') {
    throw new KeelError('invalid-config', `The ${role} model "${choice}" is a model spec, which only createKeel resolves; run the agent through createKeel, or give the ${role} a Model object.`);
  }
  return {
    provider: choice.provider,
    modelId: choice.modelId,
    async call(request, options) {
      const started = dependencies.clock.monotonic();
      const response = await choice.generate(request, options.signal);
      return { response, retries: 0, latencyMs: Math.round(dependencies.clock.monotonic() - started) };
    },
  };
}

/**
 * The USD cost of a side call: the loop's own pricing when the side model is the session's provider, else the price
 * table for the side model's provider (a verifier on another provider than the agent is priced as itself).
 */
export function sideCallCost(context: LoopContext, caller: ModelCaller, usage: Usage, modelId: string): number | null {
  const { dependencies } = context;
  return caller.provider === dependencies.model.provider ? dependencies.price(usage, modelId) : costOf(caller.provider, modelId, usage);
}
