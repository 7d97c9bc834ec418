import { KeelError } from '../errors/index.ts';
import type { Model } from '../spec/model.ts';
import type { EvalCheck } from './suite.ts';

export interface JudgeRubricOptions {
  /** The check's name in reports and thresholds. */
  readonly name: string;
  /** What a good answer does, in words the judge grades against. */
  readonly rubric: string;
  /** This check's judge model; else the suite's `judge.model`, else the run's `--judge-model`. */
  readonly model?: string | Model;
  /** Judgings of each answer; the majority verdict decides and agreement is reported. Default the suite's, else 1. */
  readonly repetitions?: number;
  /** Score from which a verdict passes when the judge gives no explicit pass. Default 0.5. */
  readonly passScore?: number;
}

/**
 * Model-as-judge: a judge model grades the final answer against a rubric, once or several times. The check passes on
 * the majority verdict; each judging's score and reasoning are kept, with the share that agreed. A judge whose every
 * answer was unusable (malformed JSON, a failed call) fails the check with the error recorded, and the run goes on.
 * @example
 * ```ts
 * judgeRubric({ name: 'polite-and-correct', rubric: 'States the order status correctly and politely; invents nothing.', repetitions: 3 })
 * ```
 */
export function judgeRubric(options: JudgeRubricOptions): EvalCheck {
  if (options.rubric.trim() === '') throw new KeelError('invalid-config', `judgeRubric "${options.name}" needs a rubric.`);
  if (options.repetitions !== undefined && !(Number.isInteger(options.repetitions) && options.repetitions > 0 && options.repetitions <= 20)) {
    throw new KeelError('invalid-config', `judgeRubric "${options.name}": repetitions must be a whole number from 1 to 20, got ${options.repetitions}.`);
  }
  return {
    name: options.name,
    kind: 'judge',
    async evaluate(context) {
      if (context.output === null) return { passed: false, detail: `Nothing to judge: the session ended ${context.status} without a final answer.` };
      const record = await context.judge.judge({
        rubric: options.rubric,
        task: context.task,
        output: context.output,
        ...(options.model === undefined ? {} : { model: options.model }),
        ...(options.repetitions === undefined ? {} : { repetitions: options.repetitions }),
        ...(options.passScore === undefined ? {} : { passScore: options.passScore }),
      });
      const usable = record.verdicts.filter((verdict) => verdict.passed !== null);
      if (usable.length === 0) {
        const first = record.verdicts.find((verdict) => verdict.error !== undefined)?.error ?? { code: 'model-malformed-response', message: 'no usable verdict' };
        return { passed: false, detail: `The judge (${record.model}) gave no usable verdict in ${record.verdicts.length} judging${record.verdicts.length === 1 ? '' : 's'}: ${first.message}`, judge: record, error: first };
      }
      const passes = usable.filter((verdict) => verdict.passed === true).length;
      const passed = passes * 2 > usable.length;
      const agreement = record.agreement === null ? '' : `, agreement ${(record.agreement * 100).toFixed(0)} %`;
      const failures = record.failures === 0 ? '' : `, ${record.failures} unusable`;
      return {
        passed,
        ...(record.meanScore === null ? {} : { score: record.meanScore }),
        detail: `Judge ${record.model}: ${passes} of ${usable.length} verdicts pass${agreement}${failures}. ${usable[0]?.reasoning ?? ''}`.trim(),
        judge: record,
      };
    },
  };
}
