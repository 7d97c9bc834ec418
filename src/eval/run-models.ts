import { KeelError } from '../errors/index.ts';
import { createModelFromSpec, parseModelSpec } from '../model/index.ts';
import type { Model } from '../spec/model.ts';
import type { CassettePlayer, CassetteRecorder } from './cassette.ts';

/** Where a run's models come from: live (recorded or not), or only from a cassette. */
export type ModelSource =
  | { readonly kind: 'live'; readonly recorder: CassetteRecorder | null }
  | { readonly kind: 'replay'; readonly player: CassettePlayer };

export interface RunModelsOptions {
  readonly source: ModelSource;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where relative `scripted:` paths resolve. */
  readonly cwd: string;
  /** Models the caller registered by name. */
  readonly registered: Readonly<Record<string, Model>>;
}

/** The label a model is recorded under: its spec or registered name, or `provider:modelId` for a model object. */
export function modelLabel(choice: string | Model): string {
  return typeof choice === 'string' ? choice.trim() : `${choice.provider}:${choice.modelId}`;
}

/**
 * Every model of a run by label, built once: the agent's and the judges'. Live models are wrapped by the recorder when
 * the run records; a replay builds no provider at all (no key is needed offline) and answers from the cassette.
 */
export function createRunModels(options: RunModelsOptions): (choice: string | Model) => Model {
  const built = new Map<string, Model>();
  return (choice) => {
    const label = modelLabel(choice);
    const existing = built.get(label);
    if (existing !== undefined) return existing;
    const model = build(choice, label, options);
    built.set(label, model);
    return model;
  };
}

function build(choice: string | Model, label: string, options: RunModelsOptions): Model {
  const { source } = options;
  if (source.kind === 'replay') return source.player.model(label, identity(choice, label));
  const live = typeof choice === 'string' ? (options.registered[label] ?? createModelFromSpec(label, { env: options.env, cwd: options.cwd })) : choice;
  return source.recorder === null ? live : source.recorder.wrap(live, label);
}

/** Provider and model id of a choice without building it (a replay needs no credentials). */
function identity(choice: string | Model, label: string): { readonly provider: string; readonly modelId: string } {
  if (typeof choice !== 'string') return { provider: choice.provider, modelId: choice.modelId };
  try {
    const parsed = parseModelSpec(label);
    return { provider: parsed.provider, modelId: 'modelId' in parsed ? parsed.modelId : 'scripted' };
  } catch (error) {
    if (error instanceof KeelError) return { provider: 'unknown', modelId: label };
    throw error;
  }
}
