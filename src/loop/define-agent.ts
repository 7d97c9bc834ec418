import { compileRevealPolicy } from '../security/redaction-policy.ts';
import type { AgentRedactionPolicy } from '../security/redaction-policy.ts';
import { KeelError } from '../errors/index.ts';
import { sha256 } from '../util/index.ts';
import type { ToolDefinition } from '../tools/define-tool.ts';
import { AgentToolMap, localToolMap } from './agent-tools.ts';
import type { ToolSource } from './agent-tools.ts';
import { checkDelegatedScopes } from './subagent-tool.ts';
import type { ContextConfig } from '../context/index.ts';
import { resolveModelSettings } from './model-settings.ts';
import type { ModelSettings, ResolvedModelSettings } from './model-settings.ts';
import { resolveInjectionPolicy } from './injection-policy.ts';
import type { AgentInjectionOptions, ResolvedInjectionPolicy } from './injection-policy.ts';
import { resolveVerifier } from './verifier-options.ts';
import type { ResolvedVerifier, VerifierOptions } from './verifier-options.ts';
import { resolvePlannerOptions } from './planner-options.ts';
import type { PlannerOptions, ResolvedPlannerOptions } from './planner-options.ts';
import type { Insight, MemoryRecord, MemoryStore, RetrievalWeights } from '../memory/index.ts';

/** Automatic retrieval: each turn, memories relevant to the latest user text go into the context's memory segment. */
export interface AgentMemoryOptions {
  readonly store: MemoryStore;
  /** `agent`: everything this agent remembered in any session; `session`: this session only. Defaults to agent. */
  readonly scope?: 'agent' | 'session';
  /** Memories per turn. Defaults to 5. */
  readonly k?: number;
  readonly weights?: RetrievalWeights;
  /**
   * Keep every tool result of a session in the episodic store (session scope), so `recall` and automatic retrieval
   * find earlier results by meaning after the context planner stubbed them. `importance` is given to each (else the
   * store rates it); `maxChars` caps the remembered text (default 4,000; the journal keeps the whole result).
   */
  readonly recordToolResults?: boolean | { readonly importance?: number; readonly maxChars?: number };
  /**
   * Reflection (Park et al.): when the importance of memories written since the last reflection passes `threshold`
   * (default 150), the loop asks the model (or `reflect`) for higher-level insights citing their sources and stores
   * them as `reflection` memories in the retrieval scope. `true` for the defaults.
   */
  readonly reflection?:
    | boolean
    | {
        readonly threshold?: number;
        readonly maxMemories?: number;
        readonly reflect?: (memories: readonly MemoryRecord[], signal?: AbortSignal) => Promise<readonly Insight[]>;
      };
}

export interface AgentLimitOptions {
  /** Defaults to 25. */
  readonly maxTurns?: number;
  /** Wall-clock budget from session start; fixed as an absolute deadline in the journal, so it survives resume. */
  readonly deadlineMs?: number;
  readonly maxInputTokens?: number;
  readonly maxOutputTokens?: number;
  readonly maxCostUsd?: number;
  /** The same call (tool and input) this many times in a row ends the session. Defaults to 3. */
  readonly maxIdenticalToolCalls?: number;
}

/** How the tool calls of one model message run. */
export interface AgentToolCallOptions {
  /** Calls run per model message; the calls after these get a `tool-call-limit` error result. Defaults to 32. */
  readonly maxPerMessage?: number;
  /** Calls of one message running at the same time; the others wait in order. Defaults to 8. */
  readonly concurrency?: number;
  /**
   * How long a cancelled session waits for calls in flight to settle before it journals their outcome as unknown
   * (and compensates those it can). Defaults to 5 seconds.
   */
  readonly cancelGraceMs?: number;
  /** Timeout of a call to a tool that declares none of its own. Defaults to 120 seconds. */
  readonly defaultTimeoutMs?: number;
}

export interface ResolvedToolCallOptions {
  readonly maxPerMessage: number;
  readonly concurrency: number;
  readonly cancelGraceMs: number;
  readonly defaultTimeoutMs: number;
}

export const defaultToolCallOptions: ResolvedToolCallOptions = { maxPerMessage: 32, concurrency: 8, cancelGraceMs: 5_000, defaultTimeoutMs: 120_000 };

export interface AgentOptions {
  readonly name: string;
  readonly instructions: string;
  /** What the agent does, in a sentence: traced as `gen_ai.agent.description`. */
  readonly description?: string;
  /** The version of this agent's definition (yours to bump), traced as `gen_ai.agent.version`. */
  readonly version?: string;
  /** The task used when a run is given none, for example `keel run agent.ts` without a task. */
  readonly defaultTask?: string;
  readonly tools?: readonly ToolDefinition[];
  /** Sources of tools that can change at run time, such as MCP servers (`connectMcpServer`); read every turn. */
  readonly toolSources?: readonly ToolSource[];
  /**
   * Scopes this agent is granted; a tool that needs a scope the agent lacks is denied. A subagent tool (`asTool`,
   * `handoff`) needs every scope its agent declares: delegation only narrows.
   */
  readonly scopes?: readonly string[];
  /** A model spec such as `anthropic:claude-sonnet-4-6`; the command line's `--model` wins over it. */
  readonly model?: string;
  readonly limits?: AgentLimitOptions;
  /** Output tokens asked for per model call. Defaults to 4096. */
  readonly maxOutputTokensPerCall?: number;
  /** Whether model calls stream. Defaults to true. */
  readonly streaming?: boolean;
  /**
   * How the agent calls its model: temperature, topP, stop sequences, seed; provider-hosted tools (each needs the scope
   * `hosted:<name>`); Anthropic prompt caching; the response cache and task class. A run's `modelSettings` go over these.
   */
  readonly modelSettings?: ModelSettings;
  /**
   * The context planner: token budgets per segment, sliding window, summarization, stubs for old tool
   * results, trust fencing; `true` for the defaults. Off by default: the whole conversation is sent as it is.
   */
  readonly context?: ContextConfig | boolean;
  /** Automatic memory retrieval into each turn's context; needs the context planner (it is turned on with defaults). */
  readonly memory?: AgentMemoryOptions;
  /** Fan-out cap, concurrency, cancellation grace and default timeout of tool calls. */
  readonly toolCalls?: AgentToolCallOptions;
  /**
   * Personal data this agent's task needs to see in tool output, by tool name (`'*'` for every tool, MCP tools
   * included): `{ reveal: { lookup_customer: ['email'], '*': ['phone'] } }`. Added to what each tool's own policy
   * reveals; secrets are never revealed, and everything that leaves the process stays redacted.
   */
  readonly redaction?: AgentRedactionPolicy;
  /**
   * Prompt-injection defence, on by default: the trust layout, detectors on untrusted items as they enter the context,
   * and information-flow control over calls that change something (docs/injection-defence.md). `false` turns it off.
   */
  readonly injection?: AgentInjectionOptions | false;
  /** Layer 4: a second model that checks proposed calls against the task, seeing only trusted text and the call. Off by default (it costs a call). */
  readonly verifier?: VerifierOptions;
  /**
   * Plan, then execute (docs/planner.md): one model call plans the task as steps with dependencies, a person may
   * approve or edit the plan, the steps run as a graph of child sessions, and a step that fails or misses its
   * criterion makes the planner plan again (bounded). `true` for the defaults.
   */
  readonly planner?: PlannerOptions | true;
}

export interface ResolvedAgentLimits {
  readonly maxTurns: number;
  readonly deadlineMs: number | null;
  readonly maxInputTokens: number | null;
  readonly maxOutputTokens: number | null;
  readonly maxCostUsd: number | null;
  readonly maxIdenticalToolCalls: number;
}

export interface AgentDefinition {
  readonly kind: 'keel-agent';
  readonly name: string;
  readonly instructions: string;
  readonly instructionsHash: string;
  readonly description?: string;
  readonly version?: string;
  readonly defaultTask: string | null;
  readonly tools: ReadonlyMap<string, ToolDefinition>;
  readonly scopes: readonly string[];
  readonly model: string | null;
  readonly limits: ResolvedAgentLimits;
  readonly maxOutputTokensPerCall: number;
  readonly streaming: boolean;
  readonly modelSettings: ResolvedModelSettings;
  readonly context: ContextConfig | null;
  readonly memory: AgentMemoryOptions | null;
  readonly toolCalls: ResolvedToolCallOptions;
  readonly redaction: AgentRedactionPolicy | null;
  readonly injection: ResolvedInjectionPolicy;
  readonly verifier?: ResolvedVerifier;
  /** Set when the agent plans before it acts: `keel.run` executes it as a planner session. */
  readonly planner?: ResolvedPlannerOptions;
}

function resolveToolCalls(options: AgentToolCallOptions = {}): ResolvedToolCallOptions {
  const grace = options.cancelGraceMs ?? defaultToolCallOptions.cancelGraceMs;
  if (!(grace >= 0) || !Number.isFinite(grace)) throw new KeelError('invalid-config', `Agent toolCalls.cancelGraceMs must be a finite number of milliseconds >= 0, got ${grace}.`);
  return {
    maxPerMessage: positive('toolCalls.maxPerMessage', options.maxPerMessage, true) ?? defaultToolCallOptions.maxPerMessage,
    concurrency: positive('toolCalls.concurrency', options.concurrency, true) ?? defaultToolCallOptions.concurrency,
    cancelGraceMs: grace,
    defaultTimeoutMs: positive('toolCalls.defaultTimeoutMs', options.defaultTimeoutMs, false) ?? defaultToolCallOptions.defaultTimeoutMs,
  };
}

function positive(name: string, value: number | undefined, integer: boolean): number | null {
  if (value === undefined) return null;
  if (!(value > 0) || (integer && !Number.isInteger(value))) {
    throw new KeelError('invalid-config', `Agent setting ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}.`);
  }
  return value;
}

/**
 * An agent: its instructions, tools and limits, checked once here (a bad setting is an `invalid-config` error).
 * @example
 * ```ts
 * const agent = defineAgent({
 *   name: 'support',
 *   instructions: 'Answer questions about orders. Look an order up before you answer.',
 *   tools: [lookupOrder],
 *   model: 'anthropic:claude-sonnet-4-6',
 *   limits: { maxTurns: 10, maxCostUsd: 0.5 },
 * });
 * const { status, output } = await createKeel().run(agent, 'Where is order 1042?').result;
 * ```
 */
export function defineAgent(options: AgentOptions): AgentDefinition {
  if (options.name.trim() === '') throw new KeelError('invalid-config', 'An agent needs a non-empty name.');
  const tools = new AgentToolMap(localToolMap(options.tools ?? [], options.name), options.toolSources ?? []);
  checkDelegatedScopes(options.name, options.scopes ?? [], options.tools ?? []);
  const limits = options.limits ?? {};
  return {
    kind: 'keel-agent',
    name: options.name,
    instructions: options.instructions,
    instructionsHash: sha256(options.instructions),
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.version === undefined ? {} : { version: options.version }),
    defaultTask: options.defaultTask ?? null,
    tools,
    scopes: [...(options.scopes ?? [])],
    model: options.model ?? null,
    limits: {
      maxTurns: positive('maxTurns', limits.maxTurns, true) ?? 25,
      deadlineMs: positive('deadlineMs', limits.deadlineMs, false),
      maxInputTokens: positive('maxInputTokens', limits.maxInputTokens, true),
      maxOutputTokens: positive('maxOutputTokens', limits.maxOutputTokens, true),
      maxCostUsd: positive('maxCostUsd', limits.maxCostUsd, false),
      maxIdenticalToolCalls: positive('maxIdenticalToolCalls', limits.maxIdenticalToolCalls, true) ?? 3,
    },
    maxOutputTokensPerCall: positive('maxOutputTokensPerCall', options.maxOutputTokensPerCall, true) ?? 4096,
    streaming: options.streaming ?? true,
    modelSettings: resolveModelSettings(options.modelSettings, options.name, options.scopes ?? []),
    context:
      options.context === true || (options.context === undefined && options.memory !== undefined)
        ? {}
        : options.context === false || options.context === undefined
          ? null
          : options.context,
    memory: options.memory ?? null,
    toolCalls: resolveToolCalls(options.toolCalls),
    redaction: options.redaction === undefined ? null : checkedAgentRedaction(options.redaction, options.name),
    injection: resolveInjectionPolicy(options.injection, options.name),
    ...(options.verifier === undefined ? {} : { verifier: resolveVerifier(options.verifier, options.name) }),
    ...(options.planner === undefined ? {} : { planner: resolvePlannerOptions(options.planner, options.name) }),
  };
}

export function isAgentDefinition(value: unknown): value is AgentDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'keel-agent';
}

function checkedAgentRedaction(policy: AgentRedactionPolicy, agent: string): AgentRedactionPolicy {
  for (const [tool, reveal] of Object.entries(policy.reveal)) compileRevealPolicy({ reveal }, `Agent "${agent}", tool "${tool}"`);
  return policy;
}
