/**
 * A copy of a JSON-like value with every string, object key included, passed through `map`: what redaction and
 * well-formedness repairs need. It keeps its own stack, so a value nested as deep as a model or a server made it is
 * only work, never a stack overflow. Any non-array object is copied as its own enumerable keys. Where two keys map to
 * the same text, the later entry's value wins at the earlier one's position, as `Object.fromEntries` does. A value met
 * twice (shared, or a cycle) is copied once, so the walk always ends.
 */
export function mapJsonStrings(value: unknown, map: (text: string) => string): unknown {
  // The common, shallow case recurses, several times faster than the walk below.
  try {
    return mapShallow(value, map, 0);
  } catch (error) {
    if (error !== tooDeep) throw error;
  }
  return mapIteratively(value, map);
}

/** Nesting the fast path accepts, far below where the stack would overflow. */
const fastPathDepth = 256;
const tooDeep = new Error('nested deeper than the fast path accepts');

function mapShallow(value: unknown, map: (text: string) => string, depth: number): unknown {
  if (typeof value === 'string') return map(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > fastPathDepth) throw tooDeep;
  if (Array.isArray(value)) return value.map((entry: unknown) => mapShallow(entry, map, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, entry]) => [map(key), mapShallow(entry, map, depth + 1)]));
}

function mapIteratively(value: unknown, map: (text: string) => string): unknown {
  const root: { copy: unknown } = { copy: undefined };
  const copies = new Map<object, unknown>();
  const pending: { readonly source: unknown; readonly assign: (copy: unknown) => void }[] = [{ source: value, assign: (copy) => (root.copy = copy) }];
  for (let task = pending.pop(); task !== undefined; task = pending.pop()) {
    const { source, assign } = task;
    if (typeof source === 'string') assign(map(source));
    else if (source === null || typeof source !== 'object') assign(source);
    else if (copies.has(source)) assign(copies.get(source));
    else if (Array.isArray(source)) {
      const copy: unknown[] = new Array<unknown>(source.length);
      copies.set(source, copy);
      assign(copy);
      source.forEach((entry: unknown, index) => pending.push({ source: entry, assign: (mapped) => (copy[index] = mapped) }));
    } else {
      const copy: Record<string, unknown> = {};
      copies.set(source, copy);
      assign(copy);
      const entries = Object.entries(source).map(([key, entry]) => [map(key), entry] as const);
      const lastIndex = new Map(entries.map(([key], index) => [key, index]));
      entries.forEach(([key, entry], index) => {
        // Claims the key's position now; only the last entry for a key fills it.
        if (!Object.hasOwn(copy, key)) define(copy, key, undefined);
        if (lastIndex.get(key) === index) pending.push({ source: entry, assign: (mapped) => define(copy, key, mapped) });
      });
    }
  }
  return root.copy;
}

/** An own property even for `__proto__`, which plain assignment would turn into a prototype change. */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}
