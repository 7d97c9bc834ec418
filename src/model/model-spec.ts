import { isAbsolute, resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import type { Model } from '../spec/model.ts';
import { createAnthropicModel } from './anthropic-model.ts';
import { createOpenAIModel } from './openai-model.ts';
import type { ModelClientKind } from './direct-settings.ts';
import { loadScriptedModel } from './scripted-model.ts';

export type ParsedModelSpec =
  | { readonly provider: 'anthropic'; readonly modelId: string }
  | { readonly provider: 'openai'; readonly modelId: string }
  | { readonly provider: 'openai-compatible'; readonly modelId: string; readonly baseURL: string }
  | { readonly provider: 'scripted'; readonly filePath: string };

export type Environment = Readonly<Record<string, string | undefined>>;

const formats = 'anthropic:<model>, openai:<model>, openai-compatible:<model>@<base URL> or scripted:<file.json>';

/** Reads `provider:rest`; only the first colon separates, since model names such as `llama3.1:8b` contain colons. */
export function parseModelSpec(spec: string): ParsedModelSpec {
  const trimmed = spec.trim();
  const colon = trimmed.indexOf(':');
  const provider = colon === -1 ? '' : trimmed.slice(0, colon);
  const rest = colon === -1 ? '' : trimmed.slice(colon + 1).trim();
  const invalid = (why: string): KeelError =>
    new KeelError('invalid-config', `Invalid model spec '${spec}' given with --model: ${why}. Use ${formats}, for example --model anthropic:claude-sonnet-4-6.`, { details: { spec } });
  if (colon === -1) throw invalid('it has no provider prefix');
  if (rest === '') throw invalid(`nothing follows '${provider}:'`);
  switch (provider) {
    case 'anthropic':
    case 'openai':
      return { provider, modelId: rest };
    case 'openai-compatible': {
      // The last "@" that starts a URL separates: model names and URLs could both contain "@" elsewhere.
      const match = /^(.*)@(https?:\/\/.+)$/.exec(rest);
      if (match === null || match[1] === undefined || match[2] === undefined || match[1] === '') {
        throw invalid('an OpenAI-compatible model needs its server, as openai-compatible:<model>@<base URL> (for example openai-compatible:llama3.1@http://localhost:11434/v1)');
      }
      return { provider, modelId: match[1], baseURL: match[2] };
    }
    case 'scripted':
      return { provider, filePath: rest };
    default:
      throw invalid(`unknown provider '${provider}'`);
  }
}

export interface ModelFromSpecOptions {
  readonly env: Environment;
  /** Relative script paths resolve against it. */
  readonly cwd: string;
  readonly fetch?: typeof globalThis.fetch;
  /** Which client sends the requests; defaults to `KEEL_MODEL_CLIENT` of `env`, then `direct`. */
  readonly client?: ModelClientKind;
}

/**
 * Builds the model a spec names, with API keys and base URLs from the environment.
 * @example
 * ```ts
 * // Through a company proxy instead of the public API.
 * const model = createModelFromSpec('openai:gpt-4.1-mini', { env: { ...process.env, OPENAI_BASE_URL: 'https://llm-proxy.example.com/v1' }, cwd: process.cwd() });
 * const keel = createKeel({ models: { mini: model }, model: 'mini' });
 * ```
 */
export function createModelFromSpec(spec: string, options: ModelFromSpecOptions): Model {
  const parsed = parseModelSpec(spec);
  const { env } = options;
  const client = options.client ?? clientFromEnvironment(env);
  const transportOptions = { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), ...(client === undefined ? {} : { client }) };
  switch (parsed.provider) {
    case 'anthropic': {
      const apiKey = requireKey(env, 'ANTHROPIC_API_KEY', spec);
      // Passed explicitly so the SDK does not consult process.env behind the given environment's back.
      const baseURL = nonEmpty(env.ANTHROPIC_BASE_URL) ?? 'https://api.anthropic.com';
      return createAnthropicModel({ modelId: parsed.modelId, apiKey, baseURL, ...transportOptions });
    }
    case 'openai': {
      const apiKey = requireKey(env, 'OPENAI_API_KEY', spec);
      const baseURL = nonEmpty(env.OPENAI_BASE_URL) ?? 'https://api.openai.com/v1';
      return createOpenAIModel({ modelId: parsed.modelId, apiKey, baseURL, provider: 'openai', ...transportOptions });
    }
    case 'openai-compatible':
      // Local servers (Ollama, vLLM) usually take no key, but the SDK insists on one.
      return createOpenAIModel({
        modelId: parsed.modelId,
        apiKey: nonEmpty(env.OPENAI_API_KEY) ?? 'not-needed',
        baseURL: parsed.baseURL,
        provider: 'openai-compatible',
        ...transportOptions,
      });
    case 'scripted':
      return loadScriptedModel(isAbsolute(parsed.filePath) ? parsed.filePath : resolve(options.cwd, parsed.filePath));
  }
}

/** The model used when neither `--model` nor the agent names one: whichever provider has a key. */
export function defaultModelSpec(env: Environment): string {
  if (nonEmpty(env.ANTHROPIC_API_KEY) !== undefined) return 'anthropic:claude-sonnet-4-6';
  if (nonEmpty(env.OPENAI_API_KEY) !== undefined) return 'openai:gpt-4o';
  throw new KeelError(
    'missing-credentials',
    'No model is configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY, or choose a model with --model (for example --model openai-compatible:llama3.1@http://localhost:11434/v1, or --model scripted:responses.json to play recorded responses without any provider).',
  );
}

function clientFromEnvironment(env: Environment): ModelClientKind | undefined {
  const value = nonEmpty(env.KEEL_MODEL_CLIENT)?.trim();
  if (value === undefined || value === 'direct' || value === 'sdk') return value;
  throw new KeelError('invalid-config', `KEEL_MODEL_CLIENT is '${value}': it must be 'direct' (Keel's own client for the provider's wire format, the default) or 'sdk' (the provider's official SDK).`, {
    details: { variable: 'KEEL_MODEL_CLIENT', value },
  });
}

function requireKey(env: Environment, variable: string, spec: string): string {
  const key = nonEmpty(env[variable]);
  if (key === undefined) {
    throw new KeelError('missing-credentials', `The model '${spec}' needs ${variable}, which is not set. Set ${variable}, or choose another model with --model (for example --model scripted:responses.json).`, {
      details: { variable, spec },
    });
  }
  return key;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
