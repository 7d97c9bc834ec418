import type { JudgeRecord } from './judge-types.ts';
import type { EvalCheckKind } from './suite.ts';

/** How a run used its cassette: recorded every model call, answered every call from another run's, or neither. */
export type CassetteMode = 'record' | 'replay' | 'off';

export interface EvalCheckResult {
  readonly name: string;
  readonly kind: EvalCheckKind;
  readonly passed: boolean;
  readonly score?: number;
  readonly detail: string;
  readonly judge?: JudgeRecord;
  readonly error?: { readonly code: string; readonly message: string };
}

/** One run of one case: its session, outcome, spending and every check's verdict. */
export interface EvalCaseResult {
  readonly runId: string;
  readonly caseId: string;
  readonly repetition: number;
  readonly sessionId: string;
  /** The session's end, or `error` when the case could not run (its agent factory threw, say). */
  readonly status: string;
  readonly output: string | null;
  /** Every check passed. */
  readonly passed: boolean;
  readonly costUsd: number | null;
  readonly latencyMs: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly turns: number;
  readonly toolCalls: number;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly checks: readonly EvalCheckResult[];
  readonly tags: readonly string[];
}

export interface EvalCheckSummary {
  readonly passed: number;
  readonly total: number;
  readonly rate: number;
}

/** The figures `--json` prints as its last line, and what thresholds are judged on. */
export interface EvalRunSummary {
  readonly run: string;
  readonly suite: string;
  /** Distinct cases run. */
  readonly cases: number;
  /** Case runs (cases × repetitions). */
  readonly sessions: number;
  readonly passed: number;
  readonly failed: number;
  readonly errored: number;
  readonly passRate: number;
  readonly thresholdMet: boolean;
  /** Why the thresholds were missed, one line each; empty when met. */
  readonly thresholdFailures: readonly string[];
  readonly checks: Readonly<Record<string, EvalCheckSummary>>;
  /** Agents' and judges' cost together; null when some model had no price. */
  readonly costUsd: number | null;
  readonly judgeCostUsd: number | null;
  readonly cassette: CassetteMode;
  readonly report: string | null;
}

export interface EvalRunRecord {
  readonly runId: string;
  readonly suite: string;
  readonly suitePath: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly status: 'running' | 'passed' | 'failed';
  readonly cassette: CassetteMode;
  /** The run whose cassette this one replayed. */
  readonly replayOf: string | null;
  readonly model: string | null;
  readonly repetitions: number;
  readonly summary: EvalRunSummary | null;
}
