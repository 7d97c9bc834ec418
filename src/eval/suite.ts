import { KeelError } from '../errors/index.ts';
import type { AgentDefinition, BudgetLimits, PendingApproval } from '../loop/index.ts';
import type { SessionEvent, SessionStatus } from '../spec/events.ts';
import type { Model } from '../spec/model.ts';
import type { Usage } from '../spec/usage.ts';
import type { JudgeRecord, JudgeService } from './judge-types.ts';

/** What kind of evidence a check reads: the final answer, the journal's tool calls, a judge model, or an attack's effect. */
export type EvalCheckKind = 'output' | 'trajectory' | 'judge' | 'robustness';

/** One tool call of a case's session, in journal order, with what became of it. */
export interface TrajectoryCall {
  readonly sessionId: string;
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  /** The pipeline's verdict; `null` when the journal has none (the session stopped first). */
  readonly decision: 'allow' | 'deny' | 'ask' | null;
  /** Whether a person approved it, when it waited for one. */
  readonly approved: boolean | null;
  /** `result` or `error` once it settled; `null` while it never ran or never settled. */
  readonly outcome: 'result' | 'error' | null;
  /** Whether the tool itself ran: allowed (or approved) and settled with a result or a tool-side error. */
  readonly executed: boolean;
}

/** What a check sees of one run of one case. */
export interface EvalCheckContext {
  readonly caseId: string;
  readonly repetition: number;
  readonly task: string;
  readonly sessionId: string;
  readonly status: SessionStatus | 'awaiting-approval' | 'error';
  readonly output: string | null;
  /** The case session's whole journal (child sessions' events are in their own journals; see `toolCalls`). */
  readonly events: readonly SessionEvent[];
  /** Tool calls of the session and of its child sessions, in order. */
  readonly toolCalls: readonly TrajectoryCall[];
  readonly usage: Usage;
  readonly costUsd: number | null;
  readonly latencyMs: number;
  readonly turns: number;
  /** The case's reference trajectory (tool names in order), when it gives one. */
  readonly reference: readonly string[] | null;
  /** Asks the suite's judge model (recorded in the run's cassette like every model call). */
  readonly judge: JudgeService;
}

/** The verdict of one check on one run of a case. */
export interface EvalCheckOutcome {
  readonly passed: boolean;
  /** 0 to 1 where the check grades (efficiency, a judge's score); absent for plain pass or fail. */
  readonly score?: number;
  /** One line a person reads in the report: what was expected and what happened. */
  readonly detail: string;
  /** A judge's verdicts, reasoning and agreement, kept with the result. */
  readonly judge?: JudgeRecord;
  /** Set when the check could not decide (a judge that answered nonsense): it counts as failed, never crashes the run. */
  readonly error?: { readonly code: string; readonly message: string };
}

/** A named check; build one with the check helpers (`outputMatches`, `toolCalled`, `judgeRubric`, …) or write your own. */
export interface EvalCheck {
  /** Unique within a case; pass rates and thresholds are reported per name across the suite. */
  readonly name: string;
  readonly kind: EvalCheckKind;
  evaluate(context: EvalCheckContext): EvalCheckOutcome | Promise<EvalCheckOutcome>;
}

/** Robustness: untrusted text appended to every result of the named tools, to see whether the agent acts on it. */
export interface EvalInjection {
  readonly tools: readonly string[];
  readonly payload: string;
}

/** What to do with calls that wait for a person: decide them the same way every time, so a case can finish. */
export type EvalApprovalPolicy = 'approve' | 'reject' | ((call: PendingApproval) => boolean);

export interface EvalCase {
  /** Unique in the suite, `[A-Za-z0-9._-]`, at most 100 characters: results and comparisons are keyed by it. */
  readonly id: string;
  /** The user's message; `{{name}}` placeholders are replaced by `inputs`. */
  readonly task: string;
  readonly inputs?: Readonly<Record<string, string | number | boolean>>;
  /** Handed to the suite's agent factory, for example the orders a case's tools should find. */
  readonly fixtures?: unknown;
  readonly tags?: readonly string[];
  readonly checks: readonly EvalCheck[];
  readonly inject?: EvalInjection;
  /** The tool names an efficient run calls, in order, for `trajectoryEfficiency`. */
  readonly reference?: readonly string[];
  /** Decides calls that wait for approval; without it a case that asks for approval ends `awaiting-approval`. */
  readonly approvals?: EvalApprovalPolicy;
  /** Overrides the suite's per-session budget. */
  readonly budget?: BudgetLimits;
}

/** What the agent factory is given for each case. */
export interface EvalAgentContext {
  readonly caseId: string;
  readonly repetition: number;
  readonly fixtures: unknown;
}

export type EvalAgentSource = AgentDefinition | ((context: EvalAgentContext) => AgentDefinition | Promise<AgentDefinition>);

export interface EvalThresholds {
  /** Share of case runs whose every check passed, 0 to 1. Default 1. */
  readonly passRate?: number;
  /** Minimum pass rate of a check, by check name. */
  readonly checks?: Readonly<Record<string, number>>;
  /** The whole run's cost (agents and judges) must stay under this. */
  readonly maxCostUsd?: number;
}

export interface EvalJudgeSettings {
  /** A model spec (`anthropic:claude-haiku-4-5`), a name registered with the run, or a Model. */
  readonly model: string | Model;
  /** How many times each judged output is judged; agreement is reported across them. Default 1. */
  readonly repetitions?: number;
}

export interface EvalSuiteOptions {
  /** `[A-Za-z0-9._-]`, at most 100 characters: runs are listed and replayed by it. */
  readonly name: string;
  readonly description?: string;
  readonly agent: EvalAgentSource;
  /** The agent's model in every case; else the run's `model` option, else the agent's own, else `KEEL_MODEL`. */
  readonly model?: string | Model;
  readonly judge?: EvalJudgeSettings;
  /** Cases running at once. Default 4. */
  readonly concurrency?: number;
  /** Runs of each case. Default 1; more gives compare its significance. */
  readonly repetitions?: number;
  readonly budget?: BudgetLimits;
  readonly thresholds?: EvalThresholds;
  readonly cases: readonly EvalCase[];
}

/** A checked suite, as `defineEvalSuite` returns it. */
export interface EvalSuite extends EvalSuiteOptions {
  readonly kind: 'keel-eval-suite';
}

const idPattern = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * An evaluation suite: typed cases run against an agent by `keel eval` or `runEvalSuite`. Checked here, once: a bad
 * id, a duplicate case or check name, or a threshold outside 0 to 1 is an `invalid-config` error.
 * @example
 * ```ts
 * export default defineEvalSuite({
 *   name: 'support',
 *   agent: supportAgent,
 *   cases: [{ id: 'where-is-1042', task: 'Where is order 1042?', checks: [toolCalled('lookup_order'), outputMatches(/shipped/i)] }],
 * });
 * ```
 */
export function defineEvalSuite(options: EvalSuiteOptions): EvalSuite {
  const where = `Eval suite "${options.name}"`;
  if (!idPattern.test(options.name)) throw invalid(`${where}: the name must be 1 to 100 characters of letters, digits, '.', '_' or '-'.`);
  if (typeof options.agent !== 'function' && (options.agent as { kind?: unknown } | null)?.kind !== 'keel-agent') {
    throw invalid(`${where}: agent must be defineAgent({...}) or a function returning one for a case.`);
  }
  checkRunCounts(where, { concurrency: options.concurrency, repetitions: options.repetitions, cases: options.cases.length });
  wholeNumber(`${where} judge.repetitions`, options.judge?.repetitions, maxJudgeRepetitions);
  checkThresholds(where, options.thresholds);
  if (options.cases.length === 0) throw invalid(`${where} has no cases.`);
  const ids = new Set<string>();
  for (const evalCase of options.cases) {
    checkCase(where, evalCase);
    if (ids.has(evalCase.id)) throw invalid(`${where}: two cases have the id "${evalCase.id}".`);
    ids.add(evalCase.id);
  }
  return { ...options, kind: 'keel-eval-suite' };
}

/** Whether a module's export is a suite made by `defineEvalSuite`. */
export function isEvalSuite(value: unknown): value is EvalSuite {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'keel-eval-suite';
}

function checkCase(where: string, evalCase: EvalCase): void {
  if (!idPattern.test(evalCase.id)) throw invalid(`${where}: case id "${evalCase.id}" must be 1 to 100 characters of letters, digits, '.', '_' or '-'.`);
  const at = `${where}, case "${evalCase.id}"`;
  if (typeof evalCase.task !== 'string' || evalCase.task.trim() === '') throw invalid(`${at}: task must be a non-empty string.`);
  if (evalCase.checks.length === 0) throw invalid(`${at} has no checks.`);
  const names = new Set<string>();
  for (const check of evalCase.checks) {
    if (typeof check?.evaluate !== 'function' || typeof check.name !== 'string' || check.name.trim() === '') throw invalid(`${at}: every check needs a name and an evaluate function.`);
    if (names.has(check.name)) throw invalid(`${at}: two checks are named "${check.name}"; give one a name of its own (most helpers take { name }).`);
    names.add(check.name);
  }
  if (evalCase.inject !== undefined && (evalCase.inject.tools.length === 0 || evalCase.inject.payload === '')) {
    throw invalid(`${at}: inject needs at least one tool and a non-empty payload.`);
  }
  const missing = [...evalCase.task.matchAll(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g)].map((match) => match[1] as string).filter((name) => evalCase.inputs?.[name] === undefined);
  if (missing.length > 0) throw invalid(`${at}: the task names {{${missing.join('}}, {{')}}} but inputs give no value for it.`);
}

/** The task with its `{{name}}` placeholders replaced by the case's inputs. */
export function renderTask(evalCase: EvalCase): string {
  return evalCase.task.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (whole, name: string) => {
    const value = evalCase.inputs?.[name];
    return value === undefined ? whole : String(value);
  });
}

function checkThresholds(where: string, thresholds: EvalThresholds | undefined): void {
  if (thresholds === undefined) return;
  const rate = (name: string, value: number | undefined): void => {
    if (value !== undefined && !(value >= 0 && value <= 1)) throw invalid(`${where}: threshold ${name} must be between 0 and 1, got ${value}.`);
  };
  rate('passRate', thresholds.passRate);
  for (const [name, value] of Object.entries(thresholds.checks ?? {})) rate(`checks.${name}`, value);
  if (thresholds.maxCostUsd !== undefined && !(thresholds.maxCostUsd >= 0)) throw invalid(`${where}: threshold maxCostUsd must be a number >= 0.`);
}

/** Most runs of one case: every run is a session of its own, and the run keeps every result in memory. */
export const maxRepetitions = 1_000;
/** Most case runs (cases × repetitions) in one eval run, for the same reason. */
export const maxCaseRuns = 100_000;
/** Most cases running at once; more only opens more sessions against the same provider limits. */
export const maxConcurrency = 1_000;
/** Most judgings of one judge check, as judgeRubric allows. */
const maxJudgeRepetitions = 20;

/**
 * Refuses a concurrency or repetition count that is not a whole number from 1 to its maximum, and a run of more than
 * `maxCaseRuns` case runs, with `invalid-config` naming where the number came from.
 */
export function checkRunCounts(where: string, counts: { readonly concurrency?: number | undefined; readonly repetitions?: number | undefined; readonly cases?: number }): void {
  wholeNumber(`${where} concurrency`, counts.concurrency, maxConcurrency);
  wholeNumber(`${where} repetitions`, counts.repetitions, maxRepetitions);
  const caseRuns = (counts.cases ?? 1) * (counts.repetitions ?? 1);
  if (caseRuns > maxCaseRuns) throw invalid(`${where}: ${counts.cases ?? 1} cases × ${counts.repetitions ?? 1} repetitions is ${caseRuns} case runs, over the limit of ${maxCaseRuns}; select fewer cases (--case) or lower the repetitions.`);
}

function wholeNumber(name: string, value: number | undefined, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value > 0 && value <= max)) throw invalid(`${name} must be a whole number from 1 to ${max}, got ${value}.`);
}

function invalid(message: string): KeelError {
  return new KeelError('invalid-config', message);
}
