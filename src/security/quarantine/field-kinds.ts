import type { z } from 'zod';

/**
 * `closed`: the schema limits the field to a fixed set of values (enum, literal, boolean, number, or a list or
 * optional of those), so untrusted content can only choose among them; `open`: free text that may carry content.
 */
export type FieldKind = 'closed' | 'open';

/** Wrappers are looked through this many levels; a schema nested deeper is treated as open. */
const maxDepth = 8;

/** The kind of each top-level field of an object schema. */
export function fieldKinds(schema: z.ZodObject): Record<string, FieldKind> {
  const kinds: Record<string, FieldKind> = {};
  for (const [name, field] of Object.entries(schema.shape)) kinds[name] = isClosed(field as z.ZodType, 0) ? 'closed' : 'open';
  return kinds;
}

function isClosed(schema: z.ZodType, depth: number): boolean {
  if (depth > maxDepth) return false;
  const definition = (schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; element?: z.ZodType; options?: readonly z.ZodType[] } } })._zod.def;
  switch (definition.type) {
    case 'enum':
    case 'literal':
    case 'boolean':
    case 'number':
    case 'int':
    case 'bigint':
    case 'null':
      return true;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'readonly':
      return definition.innerType !== undefined && isClosed(definition.innerType, depth + 1);
    case 'array':
      return definition.element !== undefined && isClosed(definition.element, depth + 1);
    case 'union':
      return (definition.options ?? []).every((option) => isClosed(option, depth + 1));
    default:
      return false;
  }
}
