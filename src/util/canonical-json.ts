import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every depth, so equal values always serialise to equal bytes. It writes what
 * `JSON.stringify` would write for a copy of the value with its keys sorted (any non-array object is copied as its own
 * enumerable keys), but keeps its own stack: hashes of model-provided JSON (idempotency, audit chain, request blobs)
 * must not fail on deep nesting the way a recursive walk does. Returns undefined where JSON.stringify does
 * (a top-level undefined, function or symbol); a cycle is a TypeError, as in JSON.stringify.
 */
export function canonicalJson(value: unknown): string {
  // The common, shallow case goes through V8's JSON.stringify, several times faster than the walk below.
  try {
    return JSON.stringify(sortShallow(value, 0));
  } catch (error) {
    if (error !== tooDeep) throw error;
  }
  return canonicalJsonIteratively(value);
}

/** Nesting the fast path accepts: far below where JSON.stringify overflows (about 3,000 levels on Node 20). */
const fastPathDepth = 256;
const tooDeep = new Error('nested deeper than the fast path accepts');

function sortShallow(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > fastPathDepth) throw tooDeep;
  if (Array.isArray(value)) return value.map((entry: unknown) => sortShallow(entry, depth + 1));
  const record = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(record).sort()) {
    const entry = record[key];
    if (entry !== undefined) sorted[key] = sortShallow(entry, depth + 1);
  }
  return sorted;
}

function canonicalJsonIteratively(value: unknown): string {
  if (!serialisable(value)) return undefined as unknown as string;
  // Two parallel stacks rather than one of frame objects: a hostile value has hundreds of thousands of levels, and
  // allocating an object per step made this walk several times slower.
  const walk: Walk = { text: '', kinds: [frameValue], items: [value], ancestors: new Set<object>() };
  while (walk.kinds.length > 0) {
    const kind = walk.kinds.pop() as number;
    const item = walk.items.pop();
    if (kind === frameText) walk.text += item as string;
    else if (kind === frameClose) {
      walk.text += Array.isArray(item) ? ']' : '}';
      walk.ancestors.delete(item as object);
    } else writeValue(item, walk);
  }
  return walk.text;
}

const frameValue = 0;
const frameText = 1;
/** Writes the closing bracket of its object and leaves that object's ancestry. */
const frameClose = 2;

interface Walk {
  text: string;
  readonly kinds: number[];
  readonly items: unknown[];
  readonly ancestors: Set<object>;
}

function serialisable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}

function push(walk: Walk, kind: number, item: unknown): void {
  walk.kinds.push(kind);
  walk.items.push(item);
}

function writeValue(value: unknown, walk: Walk): void {
  if (value === null || typeof value !== 'object') {
    walk.text += JSON.stringify(value);
    return;
  }
  if (walk.ancestors.has(value)) throw new TypeError('Converting circular structure to JSON');
  walk.ancestors.add(value);
  push(walk, frameClose, value);
  // Frames are pushed in reverse so they come off the stack in writing order.
  if (Array.isArray(value)) {
    walk.text += '[';
    for (let index = value.length - 1; index >= 0; index -= 1) {
      const entry: unknown = value[index];
      if (serialisable(entry)) push(walk, frameValue, entry);
      else push(walk, frameText, 'null');
      if (index > 0) push(walk, frameText, ',');
    }
    return;
  }
  const record = value as Record<string, unknown>;
  const keys = canonicalKeyOrder(Object.keys(record)).filter((key) => serialisable(record[key]));
  walk.text += '{';
  for (let index = keys.length - 1; index >= 0; index -= 1) {
    const key = keys[index] as string;
    push(walk, frameValue, record[key]);
    push(walk, frameText, `${index > 0 ? ',' : ''}${JSON.stringify(key)}:`);
  }
}

/**
 * Sorted keys in the order an object built from them enumerates them, which is the order earlier hashes were made in:
 * array-index keys ("0", "9", "10") first by number, then the others sorted.
 */
function canonicalKeyOrder(keys: string[]): string[] {
  const indices = keys.filter(isArrayIndex).sort((a, b) => Number(a) - Number(b));
  return indices.length === 0 ? keys.sort() : [...indices, ...keys.filter((key) => !isArrayIndex(key)).sort()];
}

function isArrayIndex(key: string): boolean {
  return /^(?:0|[1-9]\d{0,9})$/.test(key) && Number(key) < 4_294_967_295;
}

/** One-shot `hash` (Node 20.12 and later) rather than a Hash object: several times faster for the short texts hashed per turn. */
export function sha256(content: string): string {
  return hash('sha256', content, 'hex');
}

export function hashValue(value: unknown): string {
  return sha256(canonicalJson(value));
}

const canonicalTexts = new WeakMap<object, string>();

/**
 * `canonicalJson` of a value that is never changed after it is made (a journaled message, one of its content blocks,
 * a tool list), computed once per object: a request resends the whole conversation every turn, and most of it was
 * serialised the turn before.
 */
export function canonicalJsonOfImmutable(value: object): string {
  let text = canonicalTexts.get(value);
  if (text === undefined) {
    text = canonicalJson(value);
    canonicalTexts.set(value, text);
  }
  return text;
}
