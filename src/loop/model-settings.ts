import { KeelError, toKeelError } from '../errors/index.ts';
import { hostedToolNames } from '../spec/model-call.ts';
import type { HostedToolSpec, ModelAttemptRecord, ModelCallFacts, ModelCallHints, ModelParametersRecord, PromptCachingSpec } from '../spec/model-call.ts';
import type { ModelRequest, ModelResponse } from '../spec/model.ts';
import type { Usage } from '../spec/usage.ts';
import { unsentParameters } from '../model/route-failure.ts';

/** Request parameters a run may set, over the agent's. */
export interface RunModelSettings {
  /** Sampling temperature. Sent to OpenAI and compatible servers; Anthropic's API has no sampling parameters (journaled as unsent). */
  readonly temperature?: number;
  /** Nucleus sampling, 0 to 1; as `temperature`. */
  readonly topP?: number;
  /** Texts that end the answer when the model writes them (at most 4 for OpenAI). */
  readonly stopSequences?: readonly string[];
  /** Best-effort reproducible sampling where the provider has a seed (OpenAI). */
  readonly seed?: number;
  /** The response cache (when the model is wrapped in one): `off`, `trusted` (no untrusted content), or `always`. */
  readonly responseCache?: 'off' | 'trusted' | 'always';
  /** The task class a task router picks the model by. */
  readonly taskClass?: string;
}

/** How an agent calls its model, beyond the model itself. */
export interface ModelSettings extends RunModelSettings {
  /** Provider-hosted tools (web search, web fetch, code execution); each needs the scope `hosted:<name>`. */
  readonly hostedTools?: readonly HostedToolSpec[];
  /** Anthropic prompt caching on the stable prefix: `true` for the 5-minute cache, or `{ ttl: '1h' }`. */
  readonly promptCaching?: boolean | PromptCachingSpec;
}

export interface ResolvedModelSettings extends RunModelSettings {
  readonly hostedTools: readonly HostedToolSpec[];
  readonly promptCaching: PromptCachingSpec | null;
}

export const noModelSettings: ResolvedModelSettings = { hostedTools: [], promptCaching: null };

/** Checks an agent's model settings once, where the agent is defined: ranges, and the scope of every hosted tool. */
export function resolveModelSettings(settings: ModelSettings | undefined, agent: string, scopes: readonly string[]): ResolvedModelSettings {
  if (settings === undefined) return noModelSettings;
  const where = `Agent "${agent}" modelSettings`;
  checkRunModelSettings(settings, where);
  const hostedTools = settings.hostedTools ?? [];
  const seen = new Set<string>();
  for (const tool of hostedTools) {
    if (!hostedToolNames.includes(tool.name)) throw new KeelError('invalid-config', `${where}: unknown hosted tool '${String(tool.name)}'; the hosted tools are ${hostedToolNames.join(', ')}.`);
    if (seen.has(tool.name)) throw new KeelError('invalid-config', `${where}: hosted tool '${tool.name}' is listed twice.`);
    seen.add(tool.name);
    const scope = `hosted:${tool.name}`;
    if (!scopes.includes(scope)) {
      throw new KeelError('invalid-config', `${where}: the hosted tool '${tool.name}' needs the scope '${scope}', which the agent is not granted; add it to the agent's scopes.`, {
        details: { agent, tool: tool.name, scope },
      });
    }
    if (tool.maxUses !== undefined && !(Number.isInteger(tool.maxUses) && tool.maxUses > 0)) throw new KeelError('invalid-config', `${where}: hosted tool '${tool.name}' maxUses must be a positive integer, got ${tool.maxUses}.`);
    if (tool.allowedDomains !== undefined && tool.blockedDomains !== undefined) throw new KeelError('invalid-config', `${where}: hosted tool '${tool.name}' takes allowedDomains or blockedDomains, not both.`);
  }
  const caching = settings.promptCaching;
  const promptCaching = caching === undefined || caching === false ? null : caching === true ? {} : caching;
  if (promptCaching?.ttl !== undefined && promptCaching.ttl !== '5m' && promptCaching.ttl !== '1h') throw new KeelError('invalid-config', `${where}: promptCaching.ttl must be '5m' or '1h', got '${String(promptCaching.ttl)}'.`);
  return { ...settings, hostedTools, promptCaching };
}

/** Checks per-run settings the same way, before the run starts. */
export function checkRunModelSettings(settings: RunModelSettings, where: string): void {
  const bad = (why: string): KeelError => new KeelError('invalid-config', `${where}: ${why}.`);
  if (settings.temperature !== undefined && !(settings.temperature >= 0 && settings.temperature <= 2)) throw bad(`temperature must be between 0 and 2, got ${settings.temperature}`);
  if (settings.topP !== undefined && !(settings.topP > 0 && settings.topP <= 1)) throw bad(`topP must be above 0 and at most 1, got ${settings.topP}`);
  if (settings.seed !== undefined && !Number.isSafeInteger(settings.seed)) throw bad(`seed must be an integer, got ${settings.seed}`);
  if (settings.stopSequences !== undefined) {
    if (settings.stopSequences.length > 8) throw bad(`at most 8 stop sequences, got ${settings.stopSequences.length}`);
    for (const stop of settings.stopSequences) if (stop === '' || stop.length > 256) throw bad('each stop sequence must be 1 to 256 characters');
  }
  if (settings.responseCache !== undefined && !['off', 'trusted', 'always'].includes(settings.responseCache)) throw bad(`responseCache must be off, trusted or always, got '${String(settings.responseCache)}'`);
}

/** The agent's settings with the run's over them. */
export function effectiveModelSettings(agent: ResolvedModelSettings, run: RunModelSettings | undefined): ResolvedModelSettings {
  return run === undefined ? agent : { ...agent, ...run };
}

/** The turn's request with the settings' parameters on it. */
export function applyModelSettings(request: ModelRequest, settings: ResolvedModelSettings): ModelRequest {
  return {
    ...request,
    ...(settings.temperature === undefined ? {} : { temperature: settings.temperature }),
    ...(settings.topP === undefined ? {} : { topP: settings.topP }),
    ...(settings.stopSequences === undefined || settings.stopSequences.length === 0 ? {} : { stopSequences: settings.stopSequences }),
    ...(settings.seed === undefined ? {} : { seed: settings.seed }),
    ...(settings.hostedTools.length === 0 ? {} : { hostedTools: settings.hostedTools }),
    ...(settings.promptCaching === null ? {} : { promptCaching: settings.promptCaching }),
  };
}

/** What `model-request` journals of the settings; undefined when there is nothing to say. */
export function parametersRecord(settings: ResolvedModelSettings): ModelParametersRecord | undefined {
  const record: ModelParametersRecord = {
    ...(settings.temperature === undefined ? {} : { temperature: settings.temperature }),
    ...(settings.topP === undefined ? {} : { topP: settings.topP }),
    ...(settings.stopSequences === undefined || settings.stopSequences.length === 0 ? {} : { stopSequences: settings.stopSequences }),
    ...(settings.seed === undefined ? {} : { seed: settings.seed }),
    ...(settings.hostedTools.length === 0 ? {} : { hostedTools: settings.hostedTools.map((tool) => tool.name) }),
    ...(settings.promptCaching === null ? {} : { promptCaching: true }),
    ...(settings.responseCache === undefined || settings.responseCache === 'off' ? {} : { responseCache: settings.responseCache }),
    ...(settings.taskClass === undefined ? {} : { taskClass: settings.taskClass }),
  };
  return Object.keys(record).length === 0 ? undefined : record;
}

/** The hints the gateway gets: the cache mode, whether the context holds untrusted content, the task class. */
export function callHints(settings: ResolvedModelSettings, untrustedContent: boolean): ModelCallHints | undefined {
  const hints: ModelCallHints = {
    ...(settings.responseCache === undefined ? {} : { responseCache: settings.responseCache }),
    ...(untrustedContent ? { untrustedContent: true } : {}),
    ...(settings.taskClass === undefined ? {} : { taskClass: settings.taskClass }),
  };
  return Object.keys(hints).length === 0 ? undefined : hints;
}

export interface CallPricing {
  /** USD of a usage on the model that answered, null when it has no price. */
  readonly price: (usage: Usage, modelId: string) => number | null;
  /** USD of hosted-tool uses on the answering provider. */
  readonly hostedToolCost?: (provider: string, uses: Readonly<Record<string, number>>) => number;
  /** The provider when no attempt names one. */
  readonly provider: string;
}

/**
 * The routed call's facts as `model-response` fields, and its cost: the answer's tokens, its hosted-tool uses, and the
 * answers a cascade billed but did not use. A cancelled hedge is never counted: its tokens were never received.
 */
/** The `model-response` fields a routed call adds. */
export interface ResponseFactFields {
  readonly costUsd: number | null;
  readonly account?: string;
  readonly attempts?: readonly ModelAttemptRecord[];
  readonly firstTokenMs?: number;
  readonly cachedResponse?: { readonly key: string };
  readonly unsentParameters?: readonly string[];
  readonly hostedToolUse?: Readonly<Record<string, number>>;
  readonly cacheSavingsUsd?: number;
  readonly queueWaitMs?: number;
}

export function responseFacts(request: ModelRequest, response: ModelResponse, facts: ModelCallFacts, pricing: CallPricing): ResponseFactFields {
  const answered = facts.attempts?.find((attempt) => attempt.outcome === 'answered');
  const provider = answered?.provider ?? pricing.provider;
  const base = facts.cachedResponse === undefined ? pricing.price(response.usage, response.model) : 0;
  const hosted = response.hostedToolUse === undefined || facts.cachedResponse !== undefined ? 0 : (pricing.hostedToolCost?.(provider, response.hostedToolUse) ?? 0);
  const escalated = (facts.attempts ?? []).filter((attempt) => attempt.outcome === 'escalated');
  const escalatedCosts = escalated.map((attempt) => attempt.costUsd ?? null);
  const costUsd = base === null || escalatedCosts.includes(null) ? null : roundUsd(base + hosted + escalatedCosts.reduce<number>((sum, cost) => sum + (cost ?? 0), 0));
  const savings = cacheSavings(response.usage, response.model, pricing);
  // A route reports what its answering provider left out; a plain model's provider says the same of itself.
  const unsent = facts.unsentParameters ?? (facts.cachedResponse === undefined ? unsentParameters(provider, request) : []);
  return {
    costUsd,
    ...(facts.account === undefined ? {} : { account: facts.account }),
    ...(facts.attempts === undefined || facts.attempts.length === 0 || (facts.attempts.length === 1 && answered !== undefined && answered.reason === undefined) ? {} : { attempts: facts.attempts }),
    ...(facts.firstTokenMs === undefined ? {} : { firstTokenMs: facts.firstTokenMs }),
    ...(facts.cachedResponse === undefined ? {} : { cachedResponse: facts.cachedResponse }),
    ...(unsent.length === 0 ? {} : { unsentParameters: unsent }),
    ...(response.hostedToolUse === undefined ? {} : { hostedToolUse: response.hostedToolUse }),
    ...(savings === null || savings === 0 ? {} : { cacheSavingsUsd: savings }),
    ...(facts.queueWaitMs === undefined || facts.queueWaitMs === 0 ? {} : { queueWaitMs: facts.queueWaitMs }),
  };
}

/** What prompt caching saved: the call priced as if every cached token were ordinary input, minus its real price. */
function cacheSavings(usage: Usage, modelId: string, pricing: CallPricing): number | null {
  if (usage.cacheReadTokens === 0 && usage.cacheWriteTokens === 0) return 0;
  const actual = pricing.price(usage, modelId);
  const uncached = pricing.price({ inputTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens, outputTokens: usage.outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 }, modelId);
  return actual === null || uncached === null ? null : roundUsd(uncached - actual);
}

/** The attempts a failed routed call made, from its error, for `model-error`. */
export function attemptsOfError(thrown: unknown): readonly ModelAttemptRecord[] | undefined {
  const attempts = toKeelError(thrown).details.attempts;
  return Array.isArray(attempts) && attempts.length > 0 ? (attempts as ModelAttemptRecord[]) : undefined;
}

function roundUsd(value: number): number {
  return Math.round(value * 1e8) / 1e8;
}
