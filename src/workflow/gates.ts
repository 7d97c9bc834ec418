import { KeelError } from '../errors/index.ts';
import { boundText } from '../util/index.ts';
import { callModelOnce, checkStepName, executionOf } from './steps.ts';
import type { ModelPrompt } from './steps.ts';
import type { StepContext, StepScope, StepSpend } from './workflow-types.ts';

export interface GateVerdict {
  readonly pass: boolean;
  /** Why it passed or failed: a failing reason goes to the retried step as `context.feedback`. */
  readonly reason: string;
  readonly spend?: StepSpend;
}

/**
 * A check between two chain steps. A failing gate sends the step back (up to its `retries`) or stops the chain with
 * `gate-rejected`. Build one with `schemaGate`, `predicateGate` or `modelGate`.
 */
export interface Gate<O> {
  readonly name: string;
  check(output: O, scope: StepScope): Promise<GateVerdict>;
}

/** Any validator with zod's `safeParse` (zod 3 and 4, valibot adapters): the gate does not depend on one library. */
export interface SafeParseSchema {
  safeParse(value: unknown): { readonly success: boolean; readonly error?: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] } };
}

const reasonLimit = 1000;

/**
 * Passes when the output matches the schema; the failure reason lists the first issues, so a retried model step can
 * correct them.
 * @example
 * ```ts
 * chain<string>('extract').then(extractStep).gate(schemaGate(z.object({ names: z.array(z.string()).min(1) })), { retries: 2 });
 * ```
 */
export function schemaGate<O>(schema: SafeParseSchema, name = 'schema'): Gate<O> {
  checkStepName(name);
  return {
    name,
    async check(output) {
      const parsed = schema.safeParse(output);
      if (parsed.success) return { pass: true, reason: 'The output matches the schema.' };
      const issues = (parsed.error?.issues ?? []).slice(0, 10).map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
      return { pass: false, reason: boundText(`The output does not match the schema: ${issues.join('; ') || 'no details'}.`, reasonLimit) };
    },
  };
}

/**
 * Passes when the predicate returns true; `false` fails with a generic reason, a string fails with that reason.
 * @example
 * ```ts
 * predicateGate('has-citations', (report: string) => report.includes('[1]') || 'Cite at least one source as [1].');
 * ```
 */
export function predicateGate<O>(name: string, predicate: (output: O, context: StepContext) => boolean | string | Promise<boolean | string>): Gate<O> {
  checkStepName(name);
  return {
    name,
    async check(output, scope) {
      const verdict = await predicate(output, executionOf(scope).contextFor(scope));
      if (verdict === true) return { pass: true, reason: 'The predicate holds.' };
      return { pass: false, reason: boundText(verdict === false ? `The output failed the check ${name}.` : verdict, reasonLimit) };
    },
  };
}

export interface ModelGateOptions<O> {
  /** What the model judges the output against; it answers PASS, or FAIL and the reason. */
  readonly criteria: string;
  /** The output as the model sees it; JSON by default. */
  readonly render?: (output: O) => string;
  readonly model?: string;
}

/**
 * Asks a model whether the output meets the criteria. Its verdict and spend are journaled, so a resume reuses the
 * verdict instead of asking again. An answer that is neither PASS nor FAIL fails the gate.
 * @example
 * ```ts
 * modelGate('on-topic', { criteria: 'The summary only discusses the billing dispute.' });
 * ```
 */
export function modelGate<O>(name: string, options: ModelGateOptions<O>): Gate<O> {
  checkStepName(name);
  return {
    name,
    async check(output, scope) {
      const shown = options.render === undefined ? JSON.stringify(output) : options.render(output);
      const prompt: ModelPrompt = {
        system: 'You check the output of a step of an automated workflow against criteria. Answer with PASS on the first line, or FAIL: followed by what is wrong, on one line.',
        user: `Criteria:\n${options.criteria}\n\nOutput to check:\n${shown}`,
      };
      const { text, spend } = await callModelOnce(scope, options.model, prompt, { maxOutputTokens: 256, temperature: 0 });
      return { ...parseVerdict(text), spend };
    },
  };
}

function parseVerdict(text: string): { pass: boolean; reason: string } {
  const firstLine = (text.trimStart().split('\n', 1)[0] ?? '').trim();
  if (/^PASS\b/i.test(firstLine)) return { pass: true, reason: boundText(firstLine.replace(/^PASS\W*/i, '') || 'The model judged that the output meets the criteria.', reasonLimit) };
  if (/^FAIL\b/i.test(firstLine)) return { pass: false, reason: boundText(firstLine.replace(/^FAIL\W*/i, '') || 'The model judged that the output does not meet the criteria.', reasonLimit) };
  return { pass: false, reason: boundText(`The checking model answered neither PASS nor FAIL: ${JSON.stringify(firstLine.slice(0, 200))}.`, reasonLimit) };
}

export interface GateOptions {
  /** How many times a failing gate sends the step back before the chain stops (0: stop at once). Default 0, at most 10. */
  readonly retries?: number;
}

export function checkRetries(retries: number | undefined): number {
  const value = retries ?? 0;
  if (!Number.isSafeInteger(value) || value < 0 || value > 10) {
    throw new KeelError('invalid-argument', `A gate's retries must be an integer from 0 to 10, got ${String(retries)}: each retry is another run of the step.`);
  }
  return value;
}
