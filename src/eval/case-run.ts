import { toKeelError } from '../errors/index.ts';
import type { AgentDefinition, SessionResult } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import type { BudgetLimits } from '../loop/index.ts';
import { inCassetteScope } from './cassette.ts';
import type { JudgeService } from './judge-types.ts';
import { injectAgent } from './robustness.ts';
import type { EvalCaseResult, EvalCheckResult } from './run-types.ts';
import { renderTask } from './suite.ts';
import type { EvalAgentSource, EvalCase, EvalCheckContext } from './suite.ts';
import { collectTrajectory } from './trajectory.ts';

export interface CaseRunContext {
  readonly keel: Keel;
  readonly runId: string;
  readonly agent: EvalAgentSource;
  readonly judge: JudgeService;
  readonly budget: BudgetLimits | undefined;
  readonly now: () => number;
}

/** Rounds of approval a case may go through before it is left waiting: a loop of asks cannot run forever. */
const maxApprovalRounds = 20;

/** The scope of one run of one case in the cassette and the id of its session. */
export function caseScope(caseId: string, repetition: number): string {
  return `${caseId}#${repetition}`;
}

/**
 * Runs one case once as a normal journaled session (its id names the eval run), decides its approvals as the case
 * says, reads the journal back and evaluates every check. Nothing thrown here escapes: a case that cannot run is a
 * result with status `error`; a check that throws fails with its message. Replay mismatches surface through the
 * cassette player, which the runner reports after the run.
 */
export async function runCase(context: CaseRunContext, evalCase: EvalCase, repetition: number): Promise<EvalCaseResult> {
  const sessionId = `${context.runId}-${evalCase.id}-${repetition}`;
  const task = renderTask(evalCase);
  return inCassetteScope(caseScope(evalCase.id, repetition), async () => {
    const started = context.now();
    let agent: AgentDefinition;
    let result: SessionResult;
    try {
      agent = await resolveAgent(context.agent, evalCase, repetition);
      result = await runSession(context, agent, evalCase, { sessionId, task });
    } catch (thrown) {
      const error = toKeelError(thrown);
      return failedToRun(context, evalCase, repetition, sessionId, { code: error.code, message: error.message });
    }
    const latencyMs = context.now() - started;
    const events = await context.keel.events(sessionId);
    const toolCalls = await collectTrajectory(events, (id) => context.keel.events(id));
    const checkContext: EvalCheckContext = {
      caseId: evalCase.id,
      repetition,
      task,
      sessionId,
      status: result.status,
      output: result.output,
      events,
      toolCalls,
      usage: result.usage,
      costUsd: result.costUsd,
      latencyMs,
      turns: result.turns,
      reference: evalCase.reference ?? null,
      judge: context.judge,
    };
    const checks: EvalCheckResult[] = [];
    for (const check of evalCase.checks) checks.push(await evaluateCheck(check, checkContext));
    return {
      runId: context.runId,
      caseId: evalCase.id,
      repetition,
      sessionId,
      status: result.status,
      output: result.output,
      passed: checks.every((check) => check.passed),
      costUsd: result.costUsd,
      latencyMs,
      inputTokens: result.usage.inputTokens + result.usage.cacheReadTokens + result.usage.cacheWriteTokens,
      outputTokens: result.usage.outputTokens,
      turns: result.turns,
      toolCalls: toolCalls.length,
      error: result.error === null ? null : { code: result.error.code, message: result.error.message },
      checks,
      tags: evalCase.tags ?? [],
    };
  });
}

async function resolveAgent(source: EvalAgentSource, evalCase: EvalCase, repetition: number): Promise<AgentDefinition> {
  const agent = typeof source === 'function' ? await source({ caseId: evalCase.id, repetition, fixtures: evalCase.fixtures }) : source;
  return evalCase.inject === undefined ? agent : injectAgent(agent, evalCase.inject);
}

async function runSession(context: CaseRunContext, agent: AgentDefinition, evalCase: EvalCase, ids: { readonly sessionId: string; readonly task: string }): Promise<SessionResult> {
  const budget = evalCase.budget ?? context.budget;
  let result = await context.keel.run(agent, {
    task: ids.task,
    sessionId: ids.sessionId,
    priority: 'batch',
    ...(budget === undefined ? {} : { budget }),
  }).result;
  const policy = evalCase.approvals;
  for (let round = 0; policy !== undefined && result.status === 'awaiting-approval' && round < maxApprovalRounds; round += 1) {
    // Calls waiting in a child session are decided there by whoever owns that agent; the case stays waiting.
    const pending = result.pendingApprovals.find((call) => call.sessionId === undefined || call.sessionId === ids.sessionId);
    if (pending === undefined) break;
    const approved = policy === 'approve' ? true : policy === 'reject' ? false : policy(pending);
    const decided = await context.keel.decide(agent, ids.sessionId, pending.callId, { approved, approver: 'keel-eval', reason: `eval case ${evalCase.id}: ${approved ? 'approved' : 'rejected'} by the case's approval policy` });
    result = await decided.result;
  }
  return result;
}

async function evaluateCheck(check: EvalCase['checks'][number], context: EvalCheckContext): Promise<EvalCheckResult> {
  try {
    const outcome = await check.evaluate(context);
    return { name: check.name, kind: check.kind, ...outcome, passed: outcome.passed === true };
  } catch (thrown) {
    const error = toKeelError(thrown);
    return { name: check.name, kind: check.kind, passed: false, detail: `The check could not decide: ${error.message}`, error: { code: error.code, message: error.message } };
  }
}

function failedToRun(context: CaseRunContext, evalCase: EvalCase, repetition: number, sessionId: string, error: { readonly code: string; readonly message: string }): EvalCaseResult {
  return {
    runId: context.runId,
    caseId: evalCase.id,
    repetition,
    sessionId,
    status: 'error',
    output: null,
    passed: false,
    costUsd: null,
    latencyMs: 0,
    inputTokens: 0,
    outputTokens: 0,
    turns: 0,
    toolCalls: 0,
    error,
    checks: evalCase.checks.map((check) => ({ name: check.name, kind: check.kind, passed: false, detail: `The case could not run: ${error.message}`, error })),
    tags: evalCase.tags ?? [],
  };
}

