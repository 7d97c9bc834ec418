import { Ajv } from 'ajv';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';

/**
 * Checks edited tool arguments against the tool's JSON Schema with Ajv, the validator Keel's tool pipeline uses, so
 * what the editor accepts is what the server accepts. The server checks again when the approval is sent.
 */
export interface InputProblem {
  /** JSON Pointer of the offending value; empty for the whole input. */
  readonly path: string;
  readonly message: string;
}

export type InputCheck = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly problems: readonly InputProblem[] };

/** The same caps the runtime puts on schemas it compiles: a schema is compiled to code. */
const maxSchemaChars = 100_000;
const maxProblems = 10;
const options: Options = { strict: false, allErrors: true, validateFormats: false, validateSchema: false };

export type CompiledValidator = { readonly ok: true; readonly validate: ValidateFunction } | { readonly ok: false; readonly reason: string };

export function compileValidator(schema: Readonly<Record<string, unknown>>): CompiledValidator {
  const size = JSON.stringify(schema).length;
  if (size > maxSchemaChars) return { ok: false, reason: `The tool's input schema is ${size} characters, over the ${maxSchemaChars} the editor compiles; the server still checks the input.` };
  const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
  const Dialect = declared.includes('2020-12') ? Ajv2020 : declared.includes('2019-09') ? Ajv2019 : Ajv;
  try {
    return { ok: true, validate: new Dialect(options).compile(schema as Record<string, unknown>) };
  } catch (error) {
    return { ok: false, reason: `The tool's input schema does not compile here (${error instanceof Error ? error.message : String(error)}); the server still checks the input.` };
  }
}

/** Parses the editor's text and checks it; a syntax error names its line and column. */
export function checkInput(text: string, validator: CompiledValidator | null): InputCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [{ path: '', message: syntaxMessage(text, error) }] };
  }
  if (validator === null || !validator.ok) return { ok: true, value };
  if (validator.validate(value)) return { ok: true, value };
  const errors = validator.validate.errors ?? [];
  return { ok: false, problems: errors.slice(0, maxProblems).map(problemOf) };
}

function problemOf(error: ErrorObject): InputProblem {
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty?: string }).additionalProperty;
    return { path: error.instancePath, message: `has a property the tool does not take: ${extra ?? '?'}` };
  }
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty?: string }).missingProperty;
    return { path: error.instancePath, message: `is missing the required property ${missing ?? '?'}` };
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues ?? [];
    return { path: error.instancePath, message: `must be one of ${allowed.map((each) => JSON.stringify(each)).join(', ')}` };
  }
  return { path: error.instancePath, message: error.message ?? `fails ${error.keyword}` };
}

function syntaxMessage(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (text.trim() === '') return 'Enter the arguments as JSON.';
  const position = /position (\d+)/.exec(message);
  if (position === null || /line \d+/.test(message)) return `Not valid JSON: ${message}`;
  const offset = Number(position[1]);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `Not valid JSON at line ${line}, column ${column}: ${message}`;
}
