import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import type * as Ajv2019Module from 'ajv/dist/2019.js';
import type * as Ajv2020Module from 'ajv/dist/2020.js';
import { z } from 'zod';
import { canonicalJson, jsonTextDepth } from '../../util/index.ts';

/**
 * `strict: false` because servers use keywords Ajv does not know (`title`, vendor extensions). `validateFormats:
 * false` because 2020-12 treats `format` as an annotation and the server checks its own formats. `verbose` keeps
 * the offending value, so a message can say what was sent. Nothing coerces or fills defaults: the server gets
 * exactly what the model sent.
 */
const options: Options = { strict: false, allErrors: true, validateFormats: false, validateSchema: false, verbose: true };

type Dialect = new (options: Options) => Ajv;

interface Dialects {
  readonly draft07: Dialect;
  readonly draft2019: Dialect;
  readonly draft2020: Dialect;
}

let loadedDialects: Dialects | undefined;

/** Ajv (CommonJS) is loaded by the first MCP tool schema only: a process without MCP tools never pays for it. */
function dialects(): Dialects {
  if (loadedDialects !== undefined) return loadedDialects;
  const require = createRequire(import.meta.url);
  loadedDialects = {
    draft07: (require('ajv') as typeof AjvModule).Ajv,
    draft2019: (require('ajv/dist/2019.js') as typeof Ajv2019Module).Ajv2019,
    draft2020: (require('ajv/dist/2020.js') as typeof Ajv2020Module).Ajv2020,
  };
  return loadedDialects;
}

/** Schemas are compiled to code, so a hostile server could send a huge one to stall the runtime. */
const maxSchemaChars = 100_000;
/** Compiling, copying and sending a schema all recurse over it; real schemas nest a few levels, a hostile one thousands. */
const maxSchemaDepth = 64;
/** More issues than this rarely help the model; it fixes the first ones and tries again. */
const maxIssues = 10;

export type CompiledInputSchema =
  | { readonly ok: true; readonly input: z.ZodType }
  | { readonly ok: false; readonly reason: string };

/**
 * A zod schema whose check is an Ajv validator compiled from a server's JSON Schema, so MCP tools go through the
 * pipeline's validate stage like local ones, and bad input is rejected with a path and message before the call
 * reaches the server. The dialect follows `$schema`; without one it is 2020-12 (MCP 2025-11-25's default), falling
 * back to draft-07 for older servers whose schemas only compile under it (for example array-form `items`).
 */
export function compileInputSchema(schema: Readonly<Record<string, unknown>>): CompiledInputSchema {
  // Measured without recursion, before anything recursive (Ajv, structuredClone, the request serialiser) sees it.
  const text = canonicalJson(schema);
  const size = text.length;
  if (size > maxSchemaChars) return { ok: false, reason: `its input schema is ${size} characters, over the ${maxSchemaChars} allowed` };
  const depth = jsonTextDepth(text);
  if (depth > maxSchemaDepth) return { ok: false, reason: `its input schema nests ${depth} levels deep, over the ${maxSchemaDepth} allowed` };
  const declared = typeof schema.$schema === 'string' ? schema.$schema : undefined;
  const attempts: Dialect[] = declared === undefined ? [dialects().draft2020, dialects().draft07] : [dialectFor(declared)];
  let lastError: unknown;
  for (const Dialect of attempts) {
    try {
      // A fresh instance per schema (about 1 ms): Ajv caches every compiled schema and registers each `$id`, so a
      // shared one would grow with every refresh and let one server's `$id` clash with or be `$ref`-ed by another's.
      const validate = new Dialect(options).compile(withoutUnboundedChecks(schema) as Record<string, unknown>);
      return { ok: true, input: validatingSchema(validate) };
    } catch (error) {
      lastError = error;
    }
  }
  return { ok: false, reason: `its input schema does not compile: ${lastError instanceof Error ? lastError.message : String(lastError)}` };
}

/** Keywords whose check has no linear bound: a regex from the server (catastrophic backtracking) or pairwise equality. */
const unboundedKeywords = ['pattern', 'patternProperties', 'propertyNames', 'uniqueItems'];
const schemaMapKeywords = ['properties', '$defs', 'definitions', 'dependentSchemas'];
const schemaListKeywords = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const schemaKeywords = ['items', 'additionalItems', 'additionalProperties', 'contains', 'not', 'if', 'then', 'else', 'unevaluatedItems', 'unevaluatedProperties'];

/**
 * The schema Keel validates with, on its own event loop: the server's, less the checks a hostile server could make
 * take seconds per call (`"pattern": "^(a+)+$"` against 31 characters blocks for 40 s). Those stay the server's to
 * enforce, and the model still sees them in the tool's schema. Where `patternProperties` goes, `additionalProperties`
 * goes with it, since keys the patterns allowed would otherwise be refused. Only keyword positions are touched: a
 * property named `pattern` is kept. The schema is at most 64 levels deep (checked before), so recursion is bounded.
 */
function withoutUnboundedChecks(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return schema;
  const source = schema as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    if (unboundedKeywords.includes(key)) continue;
    if (key === 'additionalProperties' && 'patternProperties' in source) continue;
    if (schemaMapKeywords.includes(key) && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      copy[key] = Object.fromEntries(Object.entries(value).map(([name, child]) => [name, withoutUnboundedChecks(child)]));
    } else if (schemaListKeywords.includes(key) && Array.isArray(value)) {
      copy[key] = value.map(withoutUnboundedChecks);
    } else if (schemaKeywords.includes(key)) {
      copy[key] = Array.isArray(value) ? value.map(withoutUnboundedChecks) : withoutUnboundedChecks(value);
    } else {
      copy[key] = value;
    }
  }
  return copy;
}

function dialectFor(uri: string): Dialect {
  if (/draft-0[67]/.test(uri)) return dialects().draft07;
  if (uri.includes('2019-09')) return dialects().draft2019;
  return dialects().draft2020;
}

function validatingSchema(validate: ValidateFunction): z.ZodType {
  return z.unknown().superRefine((value, context) => {
    if (validate(value)) return;
    for (const error of (validate.errors ?? []).slice(0, maxIssues)) {
      const { path, message } = describeError(error);
      context.addIssue({ code: 'custom', path, message });
    }
  });
}

/** Rewrites Ajv's errors so the path points at the offending property and the message says what to send instead. */
export function describeError(error: ErrorObject): { path: (string | number)[]; message: string } {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((segment) => (/^(0|[1-9]\d*)$/.test(segment) ? Number(segment) : segment));
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'is required' };
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: 'is not an allowed property' };
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((value) => JSON.stringify(value)).join(', ')}` };
    case 'const':
      return { path, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'type':
      return { path, message: `${error.message ?? `must be ${String(params.type)}`}, got ${typeOf(error.data)}` };
    default:
      return { path, message: error.message ?? `fails "${error.keyword}"` };
  }
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}
