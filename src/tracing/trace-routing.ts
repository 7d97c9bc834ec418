import type { ModelErrorEvent, ModelResponseEvent } from '../spec/events.ts';
import type { ModelAttemptRecord } from '../spec/model-call.ts';

/** What a routed model call adds to its trace: who answered, every attempt, first token, caching, hosted tools. */
export interface TraceRouting {
  readonly account?: string;
  readonly attempts?: readonly ModelAttemptRecord[];
  readonly firstTokenMs?: number;
  /** Time the call waited in the rate limiter's queue. */
  readonly queueWaitMs?: number;
  readonly cacheSavingsUsd?: number;
  /** The answer came from the response cache. */
  readonly cachedResponse?: boolean;
  readonly unsentParameters?: readonly string[];
  readonly hostedToolUse?: Readonly<Record<string, number>>;
  /** Provider-hosted tool blocks in the answer (calls and results). */
  readonly hostedBlocks?: number;
}

/** The routing facts of a journaled call, or undefined for a plain one. */
export function routingOf(event: ModelResponseEvent | ModelErrorEvent): { readonly routing: TraceRouting } | Record<string, never> {
  const hostedBlocks = event.type === 'model-response' ? event.content.filter((block) => block.type === 'hosted_tool').length : 0;
  const routing: TraceRouting = {
    ...(event.type === 'model-response' && event.account !== undefined ? { account: event.account } : {}),
    ...(event.attempts === undefined ? {} : { attempts: event.attempts }),
    ...(event.type === 'model-response' && event.firstTokenMs !== undefined ? { firstTokenMs: event.firstTokenMs } : {}),
    ...(event.type === 'model-response' && event.queueWaitMs !== undefined ? { queueWaitMs: event.queueWaitMs } : {}),
    ...(event.type === 'model-response' && event.cacheSavingsUsd !== undefined ? { cacheSavingsUsd: event.cacheSavingsUsd } : {}),
    ...(event.type === 'model-response' && event.cachedResponse !== undefined ? { cachedResponse: true } : {}),
    ...(event.type === 'model-response' && event.unsentParameters !== undefined ? { unsentParameters: event.unsentParameters } : {}),
    ...(event.type === 'model-response' && event.hostedToolUse !== undefined ? { hostedToolUse: event.hostedToolUse } : {}),
    ...(hostedBlocks > 0 ? { hostedBlocks } : {}),
  };
  return Object.keys(routing).length === 0 ? {} : { routing };
}

/** The call line's suffix: account, first token, cache, hosted tools, unsent parameters. */
export function routingSuffix(routing: TraceRouting | undefined): string {
  if (routing === undefined) return '';
  const parts: string[] = [];
  if (routing.account !== undefined) parts.push(`account=${routing.account}`);
  if (routing.queueWaitMs !== undefined) parts.push(`queued=${routing.queueWaitMs} ms`);
  if (routing.firstTokenMs !== undefined) parts.push(`first token=${routing.firstTokenMs} ms`);
  if (routing.cachedResponse === true) parts.push('from response cache');
  if (routing.cacheSavingsUsd !== undefined) parts.push(`prompt cache ${routing.cacheSavingsUsd >= 0 ? 'saved' : 'write cost'} $${Math.abs(routing.cacheSavingsUsd).toFixed(6)}`);
  for (const [tool, uses] of Object.entries(routing.hostedToolUse ?? {})) parts.push(`hosted ${tool}×${uses}`);
  if (routing.hostedBlocks !== undefined && routing.hostedToolUse === undefined) parts.push(`hosted blocks=${routing.hostedBlocks}`);
  if (routing.unsentParameters !== undefined) parts.push(`not sent: ${routing.unsentParameters.join(', ')}`);
  return parts.length === 0 ? '' : `  ${parts.join('  ')}`;
}

/** One line per attempt that did not simply answer: `down failed overloaded (model-overloaded) 12 ms`. */
export function attemptLines(routing: TraceRouting | undefined): string[] {
  const attempts = routing?.attempts ?? [];
  return attempts.map((attempt) => {
    const reason = attempt.reason === undefined ? '' : ` ${attempt.reason}`;
    const code = attempt.errorCode === undefined || attempt.errorCode === attempt.reason ? '' : ` (${attempt.errorCode})`;
    const cost = attempt.costUsd === undefined || attempt.costUsd === null ? '' : ` $${attempt.costUsd.toFixed(6)}`;
    return `attempt ${attempt.account} ${attempt.provider}:${attempt.model} ${attempt.outcome}${reason}${code}${attempt.hedge === true ? ' hedge' : ''}  ${attempt.latencyMs} ms${cost}`;
  });
}
