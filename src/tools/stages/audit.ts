import { toKeelError } from '../../errors/index.ts';
import { mergeFindings } from '../../security/finding.ts';
import { createRedactor } from '../../security/redaction.ts';
import type { RedactionOptions, Redactor } from '../../security/redaction.ts';
import type { AuditEntry, AuditLog } from '../../store/audit-log.ts';
import { sha256 } from '../../util/index.ts';
import type { DecideStage, ExecuteStage, ExecutionInvocation, ExecutionOutcome, ToolInvocation } from '../pipeline/tool-invocation.ts';
import { sanitizationOf } from './sanitize.ts';

export interface AuditStageOptions {
  readonly log: AuditLog;
  /** Redaction of inputs and error messages before they are recorded; `false` records them as given. All types by default. */
  readonly redaction?: false | RedactionOptions;
}

/**
 * The audit stage: one hash-chained record per executed call, success or
 * failure, with agent, tool, redacted input, the decision and rule that let it run, the approver, a
 * digest of the output the model saw, duration and error. Place it outside the sanitize stage so it
 * records the sanitized result and sanitize's own rejections.
 *
 * The log is checked before the tool runs, so an unwritable log stops the call before any side
 * effect. A record that fails to write after the tool ran (the disk filled meanwhile) is thrown
 * rather than dropped: an unaudited call is not a completed one.
 */
export function createAuditStage(options: AuditStageOptions): ExecuteStage {
  const redactor = options.redaction === false ? null : createRedactor(options.redaction ?? {});
  const { log } = options;
  return async (invocation, next) => {
    try {
      await log.head();
    } catch (error) {
      return { ok: false, error: toKeelError(error, 'storage-failure'), latencyMs: 0 };
    }
    const started = performance.now();
    let outcome: ExecutionOutcome;
    try {
      outcome = await next();
    } catch (error) {
      const failure = toKeelError(error);
      await log.append(executionEntry(invocation, { ok: false, error: failure, latencyMs: performance.now() - started }, redactor));
      throw error;
    }
    await log.append(executionEntry(invocation, outcome, redactor));
    return outcome;
  };
}

/**
 * Records the calls the decide phase denied, which never reach the execute phase: a model that keeps
 * trying a forbidden tool is what an incident review looks for. Put it first among the decide stages
 * so it sees the final answer. Calls refused by validation (unknown tool, bad JSON, schema) are
 * answered before any decide stage runs and are in the journal, not here.
 */
export function createDenialAuditStage(options: AuditStageOptions): DecideStage {
  const redactor = options.redaction === false ? null : createRedactor(options.redaction ?? {});
  return async (invocation, next) => {
    const outcome = await next();
    if (outcome.decision === 'deny') {
      await options.log.append({
        ...callFields(invocation, redactor),
        decision: 'deny',
        rule: outcome.rule,
        approver: null,
        inputEdited: false,
        resultDigest: null,
        outputChars: null,
        outputBlob: null,
        durationMs: 0,
        error: { code: outcome.rule.startsWith('rate-limit') ? 'tool-rate-limited' : 'tool-denied', message: redactMessage(outcome.reason, redactor) },
        findings: [],
      });
    }
    return outcome;
  };
}

function executionEntry(invocation: ExecutionInvocation, outcome: ExecutionOutcome, redactor: Redactor | null): AuditEntry {
  const report = sanitizationOf(outcome);
  // The call's fields written out rather than spread: on Node 20, properties added to a spread copy take V8's slow path.
  return {
    sessionId: invocation.sessionId,
    turn: invocation.turn,
    callId: invocation.callId,
    agent: invocation.agent.name,
    tool: invocation.tool.name,
    input: redactedInput(invocation.input, redactor),
    decision: invocation.decision.decision,
    rule: invocation.decision.rule,
    approver: invocation.approval?.approver ?? null,
    inputEdited: invocation.approval?.edited ?? false,
    resultDigest: outcome.ok ? sha256(outcome.output) : null,
    outputChars: outcome.ok ? outcome.output.length : null,
    outputBlob: outcome.ok ? (outcome.fullOutputBlob ?? null) : null,
    durationMs: Math.max(0, outcome.latencyMs),
    error: outcome.ok ? null : { code: outcome.error.code, message: redactMessage(outcome.error.message, redactor) },
    findings: report === undefined ? [] : mergeFindings([...report.redactions, ...report.detections]),
  };
}

function callFields(invocation: ToolInvocation, redactor: Redactor | null): Pick<AuditEntry, 'sessionId' | 'turn' | 'callId' | 'agent' | 'tool' | 'input'> {
  return {
    sessionId: invocation.sessionId,
    turn: invocation.turn,
    callId: invocation.callId,
    agent: invocation.agent.name,
    tool: invocation.tool.name,
    input: redactedInput(invocation.input, redactor),
  };
}

function redactedInput(input: unknown, redactor: Redactor | null): unknown {
  return redactor === null ? input : redactor.redactValue(input).value;
}

function redactMessage(message: string, redactor: Redactor | null): string {
  return redactor === null ? message : redactor.redactText(message).text;
}

/** The refusals of the validate stage (unknown tool, unparseable arguments, schema), which no decide stage sees. */
export interface RefusedCall extends Pick<AuditEntry, 'sessionId' | 'turn' | 'callId' | 'agent' | 'tool' | 'input' | 'rule' | 'approver'> {
  readonly decision: 'deny';
  readonly error: NonNullable<AuditEntry['error']>;
}

/** Records a refusal that happened outside the decide stages: by validation, or by an approver's rejection. */
export function createRefusalRecorder(options: AuditStageOptions): (call: RefusedCall) => Promise<void> {
  const redactor = options.redaction === false ? null : createRedactor(options.redaction ?? {});
  return async (call) => {
    await options.log.append({
      sessionId: call.sessionId,
      turn: call.turn,
      callId: call.callId,
      agent: call.agent,
      tool: call.tool,
      input: redactor === null ? call.input : redactor.redactValue(call.input).value,
      decision: call.decision,
      rule: call.rule,
      approver: call.approver,
      inputEdited: false,
      resultDigest: null,
      outputChars: null,
      outputBlob: null,
      durationMs: 0,
      error: { code: call.error.code, message: redactMessage(call.error.message, redactor) },
      findings: [],
    });
  };
}
