import { KeelError, toKeelError } from '../errors/index.ts';
import { linkedSignal } from '../util/index.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { ToolContext, ToolDefinition } from './define-tool.ts';

export type ToolOutcome =
  | { readonly ok: true; readonly output: string; readonly latencyMs: number }
  | { readonly ok: false; readonly error: KeelError; readonly latencyMs: number };

export interface ToolCallContext {
  readonly sessionId: string;
  readonly turn: number;
  readonly idempotencyKey: string;
  readonly signal: AbortSignal;
}

/**
 * Runs one tool call: unknown tool, unparseable arguments and invalid input come back as errors the
 * model can act on, never as exceptions; the tool runs under its timeout and the caller's signal.
 */
export async function executeToolCall(
  tool: ToolDefinition | undefined,
  call: ToolUseBlock,
  context: ToolCallContext,
  availableTools: readonly string[],
): Promise<ToolOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 1000) / 1000;
  if (tool === undefined) {
    const known = availableTools.length === 0 ? 'this agent has no tools' : `available tools: ${availableTools.join(', ')}`;
    return { ok: false, error: new KeelError('tool-unknown', `There is no tool named "${call.name}"; ${known}.`), latencyMs: elapsed() };
  }
  if (call.malformedInput !== undefined) {
    const preview = call.malformedInput.length > 200 ? `${call.malformedInput.slice(0, 200)}…` : call.malformedInput;
    return {
      ok: false,
      error: new KeelError('tool-invalid-input', `The arguments for "${call.name}" were not valid JSON: ${preview}. Send the arguments again as a JSON object.`),
      latencyMs: elapsed(),
    };
  }
  const parsed = tool.input.safeParse(call.input);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.length === 0 ? '(input)' : issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    return { ok: false, error: new KeelError('tool-invalid-input', `Invalid input for "${call.name}": ${problems}.`), latencyMs: elapsed() };
  }
  const timeout = (): KeelError => new KeelError('tool-timeout', `Tool "${call.name}" did not finish within its ${tool.timeoutMs} ms timeout.`);
  const { signal, dispose } = linkedSignal([context.signal], tool.timeoutMs, timeout);
  const toolContext: ToolContext = { sessionId: context.sessionId, turn: context.turn, callId: call.id, idempotencyKey: context.idempotencyKey, signal };
  try {
    const result = await raceWithSignal(Promise.resolve().then(() => tool.execute(parsed.data, toolContext)), signal);
    return { ok: true, output: stringifyOutput(result), latencyMs: elapsed() };
  } catch (error) {
    if (signal.aborted && signal.reason instanceof KeelError) return { ok: false, error: signal.reason, latencyMs: elapsed() };
    if (context.signal.aborted) return { ok: false, error: toKeelError(context.signal.reason ?? error), latencyMs: elapsed() };
    const keelError = error instanceof KeelError ? error : new KeelError('tool-failed', `Tool "${call.name}" failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return { ok: false, error: keelError, latencyMs: elapsed() };
  } finally {
    dispose();
  }
}

/** A tool that ignores its signal must not hold the session: the race ends the wait, the tool's promise is left to settle. */
function raceWithSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function stringifyOutput(result: unknown): string {
  if (typeof result === 'string') return result;
  if (result === undefined) return '';
  const json = JSON.stringify(result);
  return json ?? String(result);
}
