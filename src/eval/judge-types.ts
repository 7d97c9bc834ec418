import type { Model } from '../spec/model.ts';

/** One judging of one output: the judge's score, verdict and reasoning, or why its answer could not be used. */
export interface JudgeVerdict {
  /** 0 to 1; null when the judge's answer was unusable. */
  readonly score: number | null;
  readonly passed: boolean | null;
  /** The judge's own explanation, kept for the report. */
  readonly reasoning: string;
  /** The judge's answer as it came, when it could not be parsed (cut to 2,000 characters). */
  readonly raw?: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly costUsd: number | null;
}

/** Every judging of one output and how far the judgings agree. */
export interface JudgeRecord {
  /** `provider:modelId` of the judge. */
  readonly model: string;
  readonly rubric: string;
  readonly verdicts: readonly JudgeVerdict[];
  /** Share of usable verdicts that agree with the majority pass/fail verdict, 0 to 1; null when none was usable. */
  readonly agreement: number | null;
  /** Mean score of the usable verdicts; null when none was usable. */
  readonly meanScore: number | null;
  /** Judgings whose answer was unusable (malformed, refused, failed call). */
  readonly failures: number;
}

export interface JudgeRequest {
  readonly rubric: string;
  /** The task the agent was given and its final answer, as the judge should see them. */
  readonly task: string;
  readonly output: string;
  /** A model for this check only; else the suite's judge. */
  readonly model?: string | Model;
  readonly repetitions?: number;
  /** Score at or above which a verdict passes when the judge gives a score but no verdict. Default 0.5. */
  readonly passScore?: number;
}

/** The run's judge: asks the judge model (through the run's cassette) and keeps every verdict. */
export interface JudgeService {
  judge(request: JudgeRequest): Promise<JudgeRecord>;
}
