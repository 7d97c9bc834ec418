import { KeelError } from '../errors/index.ts';
import type { Model } from '../spec/model.ts';
import type { ToolDefinition } from '../tools/define-tool.ts';

/**
 * A second model that checks proposed tool calls against the user's task before they run (off unless given). It sees
 * the agent's instructions, the task, the calls made so far and the proposal, never the content the agent read, so an
 * instruction planted in a tool result cannot argue with it.
 */
export interface VerifierOptions {
  /** The verifying model: a `Model`, a model spec (`anthropic:claude-haiku-4-5`) or a name registered with `createKeel({ models })`. */
  readonly model: string | Model;
  /**
   * Which calls it checks: `effects` (the default: tools of risk `write` or `irreversible`, and outbound tools, which
   * can carry data out even when they only read), `all`, or these tool names.
   */
  readonly calls?: 'effects' | 'all' | readonly string[];
  /**
   * Also check the final answer before the session completes. A denied (or escalated) answer is withheld: the session
   * ends `failed` with `answer-withheld` and the verifier's reason; the answer stays in the journal for a person.
   */
  readonly finalAnswer?: boolean;
  /** Trusted guidance for the verifier, for example "Replies go only to addresses the user names." */
  readonly guidance?: string;
  /** What a malformed answer or a failed verifier call decides. Defaults to `ask`: a person decides. */
  readonly onFailure?: 'ask' | 'deny';
  /** Output tokens of one verifier call. Defaults to 400. */
  readonly maxOutputTokens?: number;
}

export interface ResolvedVerifier {
  readonly model: string | Model;
  readonly calls: 'effects' | 'all' | ReadonlySet<string>;
  readonly finalAnswer: boolean;
  readonly guidance: string | null;
  readonly onFailure: 'ask' | 'deny';
  readonly maxOutputTokens: number;
}

export function resolveVerifier(options: VerifierOptions, agent: string): ResolvedVerifier {
  const model = options.model as unknown;
  if (typeof model !== 'string' && (typeof model !== 'object' || model === null || typeof (model as Model).generate !== 'function')) {
    throw new KeelError('invalid-config', `Agent "${agent}": verifier.model must be a model spec string or a Model object.`);
  }
  if (typeof model === 'string' && model.trim() === '') throw new KeelError('invalid-config', `Agent "${agent}": verifier.model is empty; give a model spec such as anthropic:claude-haiku-4-5.`);
  const onFailure = options.onFailure ?? 'ask';
  if (onFailure !== 'ask' && onFailure !== 'deny') throw new KeelError('invalid-config', `Agent "${agent}": verifier.onFailure must be "ask" or "deny", got ${JSON.stringify(onFailure)}.`);
  const maxOutputTokens = options.maxOutputTokens ?? 400;
  if (!Number.isInteger(maxOutputTokens) || maxOutputTokens < 16) throw new KeelError('invalid-config', `Agent "${agent}": verifier.maxOutputTokens must be an integer of at least 16, got ${maxOutputTokens}.`);
  const calls = options.calls ?? 'effects';
  if (calls !== 'effects' && calls !== 'all' && !Array.isArray(calls)) {
    throw new KeelError('invalid-config', `Agent "${agent}": verifier.calls must be "effects", "all" or a list of tool names.`);
  }
  return {
    model: options.model,
    calls: Array.isArray(calls) ? new Set(calls) : (calls as 'effects' | 'all'),
    finalAnswer: options.finalAnswer === true,
    guidance: options.guidance ?? null,
    onFailure,
    maxOutputTokens,
  };
}

/** Whether the verifier checks calls of this tool. */
export function verifies(verifier: ResolvedVerifier, tool: ToolDefinition): boolean {
  if (verifier.calls === 'all') return true;
  if (verifier.calls === 'effects') return tool.risk !== 'read' || tool.outbound === true;
  return verifier.calls.has(tool.name);
}
