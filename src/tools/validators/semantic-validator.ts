/**
 * Semantic validation beyond schema: a JSON schema can say `query` is a string, not that it is a
 * harmless one. A semantic validator looks at the parsed input and either passes it or names the field and
 * says what is wrong in words the model can act on. `withSemanticValidation` attaches validators to a zod
 * schema, so their verdicts become ordinary zod issues at the field's path: the tool executor reports them as
 * `tool-invalid-input` with the field, before the tool runs, and the JSON schema the provider sees is unchanged.
 */
import type { z } from 'zod';

export type SemanticVerdict =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** Dotted path of the offending field, e.g. `query` or `filters.0.value`; empty for the input as a whole. */
      readonly field: string;
      /**
       * What is wrong and what to do instead, addressed to the model. A final period is dropped: like zod's own
       * messages, it is followed by the executor's punctuation.
       */
      readonly message: string;
    };

/** Checks an input that already passed its schema. It must not throw; if it does, the input is rejected. */
export type SemanticValidator<Input> = (input: Input) => SemanticVerdict;

/** Splits a dotted field into a zod path: numeric segments become array indices. */
export function fieldPath(field: string): (string | number)[] {
  if (field === '') return [];
  return field.split('.').map((segment) => (/^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : segment));
}

/**
 * Returns `schema` refined by `validators`: each failing verdict adds a custom zod issue at its field, with its
 * message. Validators run only on input that passed the schema itself without any issue, so they see the
 * schema's output: defaults applied, transforms done. A validator that throws fails closed.
 */
export function withSemanticValidation<Schema extends z.ZodType>(schema: Schema, validators: readonly SemanticValidator<z.output<Schema>>[]): Schema {
  return schema.superRefine((value, context) => {
    for (const validator of validators) {
      let verdict: SemanticVerdict;
      try {
        verdict = validator(value);
      } catch (error) {
        verdict = { ok: false, field: '', message: `the input could not be validated (${error instanceof Error ? error.message : String(error)}), so it is rejected` };
      }
      if (!verdict.ok) context.addIssue({ code: 'custom', path: fieldPath(verdict.field), message: verdict.message.replace(/\.$/, ''), input: value });
    }
    // By default zod runs refinements after non-fatal issues too (a failed .max(), say); validators get clean input only.
  }, { when: (payload) => payload.issues.length === 0 });
}
