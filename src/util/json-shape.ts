/**
 * Measuring JSON without recursion. Model-provided JSON can nest as deep as the model likes (JSON.parse builds
 * 100,000 levels without complaint), and every recursive walk over it, V8's own JSON.stringify and structuredClone
 * included, ends in "Maximum call stack size exceeded". These walks keep their own stack, so any depth is only work.
 */

/** Deepest nesting of arrays and objects in a value: 0 for a primitive, 1 for `{}` or `[1, 2]`. Cycles are not followed. */
export function jsonValueDepth(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  let deepest = 0;
  const seen = new Set<object>();
  const pending: { readonly node: object; readonly depth: number }[] = [{ node: value, depth: 1 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (seen.has(item.node)) continue;
    seen.add(item.node);
    if (item.depth > deepest) deepest = item.depth;
    for (const child of Object.values(item.node)) {
      if (child !== null && typeof child === 'object') pending.push({ node: child as object, depth: item.depth + 1 });
    }
  }
  return deepest;
}

/** The shape of JSON text, read in one pass without parsing: how deep it nests and about how many values it holds. */
export interface JsonTextShape {
  /** Deepest nesting of `[` and `{`. */
  readonly depth: number;
  /** Each `,`, `[` and `{` starts a value: work over arguments (sorting keys, hashing, validating) grows with it. */
  readonly values: number;
}

/**
 * Reads text that may not be valid JSON (cut off, or with stray characters), ignoring brackets and commas inside
 * strings, so it counts what is there rather than checking the grammar.
 */
export function jsonTextShape(text: string): JsonTextShape {
  let depth = 0;
  let deepest = 0;
  let values = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) index += 1;
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x2c) values += 1;
    else if (code === 0x5b || code === 0x7b) {
      values += 1;
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if ((code === 0x5d || code === 0x7d) && depth > 0) depth -= 1;
  }
  return { depth: deepest, values };
}

/** Deepest nesting of `[` and `{` in JSON text, ignoring brackets inside strings. */
export function jsonTextDepth(text: string): number {
  return jsonTextShape(text).depth;
}
