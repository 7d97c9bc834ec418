import type { z } from 'zod';
import { KeelError } from '../../errors/index.ts';
import { compileInputSchema } from './json-schema-input.ts';

/** A checker for a tool's declared `outputSchema`, or null when it declares none. */
export type OutputCheck = z.ZodType | null;

/**
 * Compiles a tool's `outputSchema` with the same bounded Ajv setup as input schemas (size, depth, no server regex).
 * The result: a check, null for no schema, or the reason the schema cannot be used.
 */
export function compileOutputSchema(schema: Readonly<Record<string, unknown>> | undefined): { readonly ok: true; readonly check: OutputCheck } | { readonly ok: false; readonly reason: string } {
  if (schema === undefined) return { ok: true, check: null };
  const compiled = compileInputSchema(schema);
  if (!compiled.ok) return { ok: false, reason: compiled.reason.replace('its input schema', 'its output schema') };
  return { ok: true, check: compiled.input };
}

/**
 * MCP: a tool that declares an output schema MUST return structured content conforming to it, and clients SHOULD
 * validate it. A result that does not is a tool failure the model hears about, not data it should trust.
 */
export function checkStructuredContent(check: OutputCheck, structured: unknown, label: string): void {
  if (check === null) return;
  if (structured === undefined) throw new KeelError('tool-failed', `${label} declares an output schema but returned no structured content.`);
  const result = check.safeParse(structured);
  if (result.success) return;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(result)'} ${issue.message}`).join('; ');
  throw new KeelError('tool-failed', `${label} returned structured content that does not match its output schema: ${problems}`);
}

const dataUrl = /^data:([a-z]+\/[\w.+-]+);base64,/i;
/** Nodes visited at most; structured content is bounded by the result size the SDK accepted, this bounds the walk. */
const maxNodes = 200_000;

/**
 * Structured content as the model gets it: binary media inside it (an MCP image or audio block, `{ type: 'image',
 * data, mimeType }`, or a `data:` URL) is summarized the way content blocks are (`[image: image/png, 1234 bytes]`),
 * instead of sending base64 the model cannot read and that fills its context. Iterative, so nesting cannot overflow
 * the stack; the input is not modified.
 */
export function summarizeBinaryContent(value: unknown): unknown {
  const root: { value: unknown } = { value };
  const stack: { holder: Record<string, unknown> | unknown[]; key: string | number }[] = [{ holder: root as unknown as Record<string, unknown>, key: 'value' }];
  let visited = 0;
  while (stack.length > 0 && visited < maxNodes) {
    const { holder, key } = stack.pop() as { holder: Record<string, unknown> | unknown[]; key: string | number };
    visited += 1;
    const current = (holder as Record<string | number, unknown>)[key];
    const summary = binarySummary(current);
    if (summary !== null) {
      (holder as Record<string | number, unknown>)[key] = summary;
      continue;
    }
    if (Array.isArray(current)) {
      const copy = [...current];
      (holder as Record<string | number, unknown>)[key] = copy;
      for (let index = 0; index < copy.length; index += 1) stack.push({ holder: copy, key: index });
    } else if (typeof current === 'object' && current !== null) {
      const copy = { ...(current as Record<string, unknown>) };
      (holder as Record<string | number, unknown>)[key] = copy;
      for (const name of Object.keys(copy)) stack.push({ holder: copy, key: name });
    }
  }
  return root.value;
}

function binarySummary(value: unknown): string | null {
  if (typeof value === 'string') {
    const match = dataUrl.exec(value);
    if (match === null) return null;
    const payload = value.slice(match[0].length);
    const kind = (match[1] ?? '').split('/')[0] ?? 'data';
    return `[${kind}: ${match[1] ?? 'unknown'}, ${Buffer.byteLength(payload, 'base64')} bytes]`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const block = value as { type?: unknown; data?: unknown; mimeType?: unknown };
  if ((block.type === 'image' || block.type === 'audio') && typeof block.data === 'string' && typeof block.mimeType === 'string') {
    return `[${block.type}: ${block.mimeType}, ${Buffer.byteLength(block.data, 'base64')} bytes]`;
  }
  return null;
}
