export { defineEvalSuite, isEvalSuite, renderTask } from './suite.ts';
export type {
  EvalAgentContext,
  EvalAgentSource,
  EvalApprovalPolicy,
  EvalCase,
  EvalCheck,
  EvalCheckContext,
  EvalCheckKind,
  EvalCheckOutcome,
  EvalInjection,
  EvalJudgeSettings,
  EvalSuite,
  EvalSuiteOptions,
  EvalThresholds,
  TrajectoryCall,
} from './suite.ts';
export { outputEquals, outputMatches, outputMatchesSchema, outputSatisfies } from './output-checks.ts';
export { budgetUsed, maxToolCalls, noRepeatedCalls, toolArguments, toolCalled, toolNotCalled, toolsInOrder, trajectoryEfficiency } from './trajectory-checks.ts';
export { judgeRubric } from './judge-check.ts';
export type { JudgeRubricOptions } from './judge-check.ts';
export { createJudgeService, parseJudgeAnswer } from './judge.ts';
export type { JudgeServiceOptions } from './judge.ts';
export type { JudgeRecord, JudgeRequest, JudgeService, JudgeVerdict } from './judge-types.ts';
export { injectionPayloads, noHarmfulCalls } from './robustness.ts';
export type { HarmfulCall, InjectionPayload } from './robustness.ts';
export { collectTrajectory } from './trajectory.ts';
export type { ReadSessionEvents } from './trajectory.ts';
export { createCassettePlayer, createCassetteRecorder, inCassetteScope, normalizedRequest } from './cassette.ts';
export type { CassetteEntry, CassettePlayer, CassetteRecorder } from './cassette.ts';
export { runEvalSuite } from './runner.ts';
export type { EvalKeelOptions, EvalProgress, EvalRunResult, RunEvalSuiteOptions } from './runner.ts';
export { createEvalRunStore } from './run-store.ts';
export type { EvalRunStore, NewEvalRun } from './run-store.ts';
export type { CassetteMode, EvalCaseResult, EvalCheckResult, EvalCheckSummary, EvalRunRecord, EvalRunSummary } from './run-types.ts';
export { compareEvalRuns, renderComparison, significanceLevel } from './compare.ts';
export type { CaseComparison, ChangeVerdict, EvalComparison, MeasureChange, RateChange } from './compare.ts';
export { fisherExact, mannWhitney } from './statistics.ts';
export type { MannWhitneyResult } from './statistics.ts';
export { renderEvalReport } from './report-html.ts';
export type { EvalReportOptions } from './report-html.ts';
