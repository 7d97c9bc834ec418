import type { ToolUnion } from '@anthropic-ai/sdk/resources/messages';
import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import { KeelError } from '../errors/index.ts';
import { hostedToolNames } from '../spec/model-call.ts';
import type { HostedToolName, HostedToolSpec } from '../spec/model-call.ts';

/** The scope an agent needs to enable a hosted tool: `hosted:web_search`, `hosted:web_fetch`, `hosted:code_execution`. */
export function hostedToolScope(name: HostedToolName): string {
  return `hosted:${name}`;
}

/** USD per use of a hosted tool, by provider and tool, beyond the tokens its results add (which are priced as input). */
export type HostedToolPriceTable = Readonly<Record<string, Readonly<Partial<Record<HostedToolName, number>>>>>;

/**
 * Anthropic's list prices: web search $10 per 1,000 searches; web fetch costs only the tokens it adds. Code execution
 * is billed by container time, which responses do not report, so its uses are counted but not priced here; give a
 * figure in `overrides` to count one. OpenAI's Chat Completions web search is priced per model and not listed.
 */
export const hostedToolPrices: HostedToolPriceTable = {
  anthropic: { web_search: 0.01, web_fetch: 0 },
};

/** USD for the hosted-tool uses of one response; uses of a tool without a price add nothing. */
export function hostedToolCost(provider: string, uses: Readonly<Record<string, number>> | undefined, overrides?: HostedToolPriceTable): number {
  if (uses === undefined) return 0;
  let total = 0;
  for (const [name, count] of Object.entries(uses)) {
    const price = overrides?.[provider]?.[name as HostedToolName] ?? hostedToolPrices[provider]?.[name as HostedToolName];
    if (price !== undefined && Number.isFinite(count) && count > 0) total += price * count;
  }
  return Math.round(total * 1e8) / 1e8;
}

/** Checks an agent's hosted tools once, where they are defined: known names, no duplicates, sane limits. */
export function checkHostedTools(specs: readonly HostedToolSpec[], where: string): readonly HostedToolSpec[] {
  const seen = new Set<string>();
  for (const spec of specs) {
    if (!hostedToolNames.includes(spec.name)) {
      throw new KeelError('invalid-config', `${where}: unknown hosted tool '${String(spec.name)}'; the hosted tools are ${hostedToolNames.join(', ')}.`);
    }
    if (seen.has(spec.name)) throw new KeelError('invalid-config', `${where}: hosted tool '${spec.name}' is listed twice.`);
    seen.add(spec.name);
    if (spec.maxUses !== undefined && !(Number.isInteger(spec.maxUses) && spec.maxUses > 0)) {
      throw new KeelError('invalid-config', `${where}: hosted tool '${spec.name}' maxUses must be a positive integer, got ${spec.maxUses}.`);
    }
    if (spec.allowedDomains !== undefined && spec.blockedDomains !== undefined) {
      throw new KeelError('invalid-config', `${where}: hosted tool '${spec.name}' takes allowedDomains or blockedDomains, not both (the provider refuses both).`);
    }
    if (spec.name === 'code_execution' && (spec.allowedDomains !== undefined || spec.blockedDomains !== undefined)) {
      throw new KeelError('invalid-config', `${where}: code_execution has no domain lists; they apply to web_search and web_fetch.`);
    }
  }
  return specs;
}

/** Anthropic server tools, at the versions this SDK's API version documents. */
export function anthropicHostedTools(specs: readonly HostedToolSpec[]): ToolUnion[] {
  return specs.map((spec): ToolUnion => {
    const uses = spec.maxUses === undefined ? {} : { max_uses: spec.maxUses };
    const domains = {
      ...(spec.allowedDomains === undefined ? {} : { allowed_domains: [...spec.allowedDomains] }),
      ...(spec.blockedDomains === undefined ? {} : { blocked_domains: [...spec.blockedDomains] }),
    };
    switch (spec.name) {
      case 'web_search':
        return { type: 'web_search_20250305', name: 'web_search', ...uses, ...domains };
      case 'web_fetch':
        return { type: 'web_fetch_20250910', name: 'web_fetch', ...uses, ...domains };
      case 'code_execution':
        return { type: 'code_execution_20250825', name: 'code_execution' };
    }
  });
}

/**
 * Chat Completions has one hosted tool, web search (`web_search_options`, on the search models). Web fetch and code
 * execution exist only in OpenAI's Responses API, which Keel does not speak: asking for them fails before any call.
 */
export function openAIHostedTools(specs: readonly HostedToolSpec[], modelId: string): Pick<ChatCompletionCreateParamsBase, 'web_search_options'> {
  const unsupported = specs.filter((spec) => spec.name !== 'web_search');
  if (unsupported.length > 0) {
    throw new KeelError(
      'invalid-config',
      `Hosted tool(s) ${unsupported.map((spec) => spec.name).join(', ')} are not available on Chat Completions (${modelId}); only web_search is. Route this agent to an Anthropic model, or remove them.`,
      { details: { model: modelId, tools: unsupported.map((spec) => spec.name) } },
    );
  }
  return specs.length === 0 ? {} : { web_search_options: {} };
}

/** Hosted-tool uses from Anthropic's `usage.server_tool_use` and the response's own blocks (code execution has no counter). */
export function anthropicHostedToolUse(serverToolUse: unknown, content: readonly { readonly type: string; readonly name?: unknown }[]): Record<string, number> | undefined {
  const uses: Record<string, number> = {};
  const counters = (serverToolUse ?? {}) as { web_search_requests?: unknown; web_fetch_requests?: unknown };
  if (typeof counters.web_search_requests === 'number' && counters.web_search_requests > 0) uses.web_search = counters.web_search_requests;
  if (typeof counters.web_fetch_requests === 'number' && counters.web_fetch_requests > 0) uses.web_fetch = counters.web_fetch_requests;
  const executions = content.filter((block) => block.type === 'server_tool_use' && (block.name === 'code_execution' || block.name === 'bash_code_execution')).length;
  if (executions > 0) uses.code_execution = executions;
  return Object.keys(uses).length === 0 ? undefined : uses;
}
