import { KeelError, toKeelError } from '../../errors/index.ts';
import { boundText, linkedSignal } from '../../util/index.ts';
import type { ToolUseBlock } from '../../spec/message.ts';
import type { ToolDefinition } from '../define-tool.ts';
import type { InformationFlowContext } from '../../security/provenance/flow-context.ts';
import { compose } from './compose.ts';
import { limitRules, refuseOverLimitCall, resolvePipelineLimits } from './tool-call-bounds.ts';
import type { ToolCallLimits } from './tool-call-bounds.ts';
import type { CallingAgent, DecideStage, DecisionOutcome, ExecuteStage, ExecutionInvocation, ExecutionOutcome, ToolInvocation } from './tool-invocation.ts';

export interface ToolPipelineOptions {
  /** After validation: authorize, rate-limit, approval policy. Order matters: the first stage that answers decides. */
  readonly decideStages?: readonly DecideStage[];
  /** Around execution: idempotency, sanitize, audit. The last stage wraps the tool run itself. */
  readonly executeStages?: readonly ExecuteStage[];
  /** Told of every call the validate stage refuses (no decide stage sees those), for the audit log. */
  readonly onValidationRefusal?: (refusal: { readonly request: DecideRequest; readonly rule: string; readonly error: KeelError }) => Promise<void>;
  /**
   * Bounds checked before anything else looks at a call: tool-name length, UTF-8 bytes of the arguments' JSON, and
   * their nesting depth. A call over them is denied as `tool-invalid-input`, which the model can fix; the session
   * goes on. Defaults: 128 characters, 1 MiB, 64 levels. Give the gateway the same limits (`toolCallLimits`).
   */
  readonly toolCallLimits?: Partial<ToolCallLimits>;
}

export interface DecideRequest {
  readonly sessionId: string;
  readonly turn: number;
  readonly idempotencyKey: string;
  readonly agent: CallingAgent;
  readonly call: ToolUseBlock;
  readonly tool: ToolDefinition | undefined;
  readonly availableTools: readonly string[];
  readonly signal: AbortSignal;
  /** Where the session's context came from (information-flow control); the loop passes it when the agent's defence is on. */
  readonly flow?: InformationFlowContext;
}

export interface DecideResult extends DecisionOutcome {
  /** For a deny: the error the model sees as the call's result. */
  readonly error: KeelError | null;
  readonly input: unknown;
}

/** The executor in two phases around the journal: decide (journaled as tool-decision), then execute. */
export interface ToolPipeline {
  decide(request: DecideRequest): Promise<DecideResult>;
  execute(invocation: ExecutionInvocation): Promise<ExecutionOutcome>;
}

/** The code the model sees for a deny, by the rule family that denied. */
function denialCode(rule: string): 'tool-unknown' | 'tool-invalid-input' | 'tool-rate-limited' | 'tool-denied' {
  if (rule === 'unknown-tool') return 'tool-unknown';
  if (rule === 'schema' || rule === 'malformed-json' || rule === limitRules.name || rule === limitRules.arguments) return 'tool-invalid-input';
  if (rule.startsWith('rate-limit')) return 'tool-rate-limited';
  return 'tool-denied';
}

export function createToolPipeline(options: ToolPipelineOptions = {}): ToolPipeline {
  const decideChain = compose<ToolInvocation, DecisionOutcome>(options.decideStages ?? [], async () => ({ decision: 'allow', rule: 'default', reason: 'No stage objected.' }));
  const executeChain = compose<ExecutionInvocation, ExecutionOutcome>(options.executeStages ?? [], runTool);
  const limits = resolvePipelineLimits(options.toolCallLimits);

  return {
    async decide(request) {
      const validation = validate(request, limits);
      if ('error' in validation) {
        await options.onValidationRefusal?.({ request, rule: validation.rule, error: validation.error });
        return { decision: 'deny', rule: validation.rule, reason: validation.error.message, error: validation.error, input: request.call.input };
      }
      const { tool, input } = validation;
      const outcome = await decideChain({
        sessionId: request.sessionId,
        turn: request.turn,
        callId: request.call.id,
        idempotencyKey: request.idempotencyKey,
        agent: request.agent,
        tool,
        input,
        signal: request.signal,
        ...(request.flow === undefined ? {} : { flow: request.flow }),
      });
      const retryAfterMs = (outcome as { retryAfterMs?: unknown }).retryAfterMs;
      const error =
        outcome.decision === 'deny'
          ? new KeelError(denialCode(outcome.rule), outcome.reason, { details: { rule: outcome.rule }, ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}) })
          : null;
      return { ...outcome, error, input };
    },
    execute: (invocation) => executeChain(invocation),
  };
}

/**
 * The validate stage: calls over the limits, unknown tools, unparseable arguments and schema failures become denials
 * the model can act on. Every piece of the model's text a message quotes is bounded (`boundText`).
 */
function validate(request: DecideRequest, limits: ToolCallLimits): { tool: ToolDefinition; input: unknown } | { rule: string; error: KeelError } {
  const { call, tool } = request;
  const overLimit = refuseOverLimitCall(call, limits);
  if (overLimit !== null) return overLimit;
  if (tool === undefined) {
    const known = request.availableTools.length === 0 ? 'this agent has no tools' : `available tools: ${request.availableTools.join(', ')}`;
    return { rule: 'unknown-tool', error: new KeelError('tool-unknown', `There is no tool named "${boundText(call.name)}"; ${known}.`) };
  }
  if (call.malformedInput !== undefined) {
    return { rule: 'malformed-json', error: new KeelError('tool-invalid-input', `The arguments for "${call.name}" were not valid JSON: ${boundText(call.malformedInput)}. Send the arguments again as a JSON object.`) };
  }
  return validateInput(tool, call.input);
}

/** Issues quoted in a schema refusal; the model fixes the first ones and tries again. */
const maxQuotedIssues = 10;
/** A schema's own message (a validator's guidance) is kept whole up to this; it may quote the model's values. */
const maxIssueMessageChars = 1_000;

export function validateInput(tool: ToolDefinition, input: unknown): { tool: ToolDefinition; input: unknown } | { rule: string; error: KeelError } {
  const parsed = tool.input.safeParse(input);
  if (parsed.success) return { tool, input: parsed.data };
  const { issues } = parsed.error;
  // Paths and messages can repeat the model's own keys and values, so each is bounded, and so is their number.
  const quoted = issues.slice(0, maxQuotedIssues).map((issue) => `${issue.path.length === 0 ? '(input)' : boundText(issue.path.join('.'))}: ${boundText(issue.message, maxIssueMessageChars)}`);
  const more = issues.length > maxQuotedIssues ? `; and ${issues.length - maxQuotedIssues} more` : '';
  return { rule: 'schema', error: new KeelError('tool-invalid-input', `Invalid input for "${tool.name}": ${quoted.join('; ')}${more}.`) };
}

/** The innermost stage: the tool itself, under its timeout and the session's signal. */
async function runTool(invocation: ExecutionInvocation): Promise<ExecutionOutcome> {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 1000) / 1000;
  const { tool } = invocation;
  const timeout = (): KeelError => new KeelError('tool-timeout', `Tool "${tool.name}" did not finish within its ${tool.timeoutMs} ms timeout.`);
  const { signal, dispose } = linkedSignal([invocation.signal], tool.timeoutMs, timeout);
  const context = { sessionId: invocation.sessionId, turn: invocation.turn, callId: invocation.callId, idempotencyKey: invocation.idempotencyKey, signal, ...(invocation.reader === undefined ? {} : { readUntrusted: invocation.reader }), ...(invocation.sampler === undefined ? {} : { sample: invocation.sampler }) };
  try {
    const result = await raceWithSignal(Promise.resolve().then(() => tool.execute(invocation.input, context)), signal);
    return { ok: true, output: stringifyOutput(result), latencyMs: elapsed() };
  } catch (error) {
    if (signal.aborted && signal.reason instanceof KeelError) return { ok: false, error: signal.reason, latencyMs: elapsed() };
    if (invocation.signal.aborted) return { ok: false, error: toKeelError(invocation.signal.reason ?? error), latencyMs: elapsed() };
    const keelError = error instanceof KeelError ? error : new KeelError('tool-failed', `Tool "${tool.name}" failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    return { ok: false, error: boundedToolError(keelError, tool.maxOutputChars), latencyMs: elapsed() };
  } finally {
    dispose();
  }
}

/**
 * A tool's error goes to the model, the journal and the audit log like its output, and often repeats the input it was
 * given (a server echoing the arguments, a parser quoting its text), so it is held to the output's length too.
 */
function boundedToolError(error: KeelError, limit: number): KeelError {
  if (error.message.length <= limit) return error;
  return new KeelError(error.code, boundText(error.message, limit), {
    cause: error,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    details: error.details,
  });
}

/** A tool that ignores its signal must not hold the session: the race ends the wait, the tool's promise is left to settle. */
export function raceWithSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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

export function stringifyOutput(result: unknown): string {
  if (typeof result === 'string') return result;
  if (result === undefined) return '';
  const json = JSON.stringify(result);
  return json ?? String(result);
}
