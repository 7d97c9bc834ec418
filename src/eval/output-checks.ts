import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import { wholeFenceBody } from './code-fence.ts';
import type { EvalCheck, EvalCheckContext, EvalCheckOutcome } from './suite.ts';

/** Longest output a regular expression runs over: a pathological pattern cannot stall the run on a huge answer. */
const maxMatchedChars = 200_000;

function preview(text: string | null): string {
  if (text === null) return '(no output)';
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 120 ? `"${flat.slice(0, 119)}…"` : `"${flat}"`;
}

function withoutOutput(context: EvalCheckContext): EvalCheckOutcome | null {
  return context.output === null ? { passed: false, detail: `The session ended ${context.status} without a final answer.` } : null;
}

/**
 * The final answer equals `expected` exactly (after trimming both ends, unless `trim: false`).
 * @example
 * ```ts
 * outputEquals('4')
 * ```
 */
export function outputEquals(expected: string, options: { readonly name?: string; readonly trim?: boolean } = {}): EvalCheck {
  const trim = options.trim ?? true;
  return {
    name: options.name ?? 'output-equals',
    kind: 'output',
    evaluate(context) {
      const missing = withoutOutput(context);
      if (missing !== null) return missing;
      const actual = trim ? (context.output ?? '').trim() : (context.output ?? '');
      const wanted = trim ? expected.trim() : expected;
      return actual === wanted ? { passed: true, detail: `Output equals ${preview(wanted)}.` } : { passed: false, detail: `Expected ${preview(wanted)}, got ${preview(actual)}.` };
    },
  };
}

/**
 * The final answer matches a regular expression (searched in its first 200,000 characters).
 * @example
 * ```ts
 * outputMatches(/refund (was|has been) issued/i, { name: 'confirms-refund' })
 * ```
 */
export function outputMatches(pattern: RegExp, options: { readonly name?: string } = {}): EvalCheck {
  return {
    name: options.name ?? 'output-matches',
    kind: 'output',
    evaluate(context) {
      const missing = withoutOutput(context);
      if (missing !== null) return missing;
      // A fresh copy: a /g or /y pattern keeps lastIndex between calls, which would make repeated runs disagree.
      const matched = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).test((context.output ?? '').slice(0, maxMatchedChars));
      return { passed: matched, detail: `Output ${matched ? 'matches' : 'does not match'} ${String(pattern)}: ${preview(context.output)}.` };
    },
  };
}

/**
 * The final answer is JSON (alone, or in a ```json fence) that satisfies a JSON Schema or a zod schema.
 * @example
 * ```ts
 * outputMatchesSchema({ type: 'object', required: ['comments'], properties: { comments: { type: 'array' } } })
 * ```
 */
export function outputMatchesSchema(schema: Readonly<Record<string, unknown>> | z.ZodType, options: { readonly name?: string } = {}): EvalCheck {
  const validator = toZod(schema);
  return {
    name: options.name ?? 'output-schema',
    kind: 'output',
    evaluate(context) {
      const missing = withoutOutput(context);
      if (missing !== null) return missing;
      const text = unfence((context.output ?? '').trim());
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        return { passed: false, detail: `Output is not JSON (${error instanceof Error ? error.message : String(error)}): ${preview(context.output)}.` };
      }
      const result = validator.safeParse(value);
      if (result.success) return { passed: true, detail: 'Output is JSON that satisfies the schema.' };
      const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue.message}`);
      return { passed: false, detail: `Output does not satisfy the schema: ${issues.join('; ')}${result.error.issues.length > 3 ? ` (and ${result.error.issues.length - 3} more)` : ''}.` };
    },
  };
}

/**
 * Any test of the final answer (and of the rest of the context): return true, false, or an outcome with a detail.
 * A function that throws fails the check with its message.
 * @example
 * ```ts
 * outputSatisfies('cites-a-source', ({ output }) => /\[S\d+\]/.test(output ?? ''))
 * ```
 */
export function outputSatisfies(name: string, test: (context: EvalCheckContext) => boolean | EvalCheckOutcome | Promise<boolean | EvalCheckOutcome>): EvalCheck {
  return {
    name,
    kind: 'output',
    async evaluate(context) {
      try {
        const verdict = await test(context);
        if (typeof verdict === 'boolean') return { passed: verdict, detail: `${name}: ${verdict ? 'satisfied' : 'not satisfied'} by ${preview(context.output)}.` };
        return verdict;
      } catch (error) {
        return { passed: false, detail: `${name} threw: ${error instanceof Error ? error.message : String(error)}`, error: { code: 'check-threw', message: error instanceof Error ? error.message : String(error) } };
      }
    },
  };
}

function toZod(schema: Readonly<Record<string, unknown>> | z.ZodType): z.ZodType {
  if (schema instanceof z.ZodType) return schema;
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new KeelError('invalid-config', `outputMatchesSchema: the JSON Schema cannot be used: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function unfence(text: string): string {
  return wholeFenceBody(text) ?? text;
}
