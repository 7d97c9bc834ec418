import { KeelError } from '../errors/index.ts';

/** Copies a vector into a Float32Array after checking its length and that every entry is finite. */
export function toVector(values: ArrayLike<number>, dimensions: number, what = 'vector'): Float32Array {
  if (values.length !== dimensions) {
    throw new KeelError('invalid-argument', `The ${what} has ${values.length} dimensions; this index holds ${dimensions}.`, {
      details: { expected: dimensions, actual: values.length },
    });
  }
  const vector = Float32Array.from(values);
  for (let index = 0; index < vector.length; index += 1) {
    if (!Number.isFinite(vector[index])) throw new KeelError('invalid-argument', `The ${what} has a non-finite value at position ${index}.`);
  }
  return vector;
}

export function norm(vector: ArrayLike<number>): number {
  let sum = 0;
  for (let index = 0; index < vector.length; index += 1) sum += (vector[index] as number) ** 2;
  return Math.sqrt(sum);
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let index = 0; index < a.length; index += 1) {
    const x = a[index] as number;
    const y = b[index] as number;
    dot += x * y;
    normA += x * x;
    normB += y * y;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}

export function checkPositiveInteger(value: number, name: string, code: 'invalid-argument' | 'invalid-config' = 'invalid-argument'): void {
  if (!(Number.isInteger(value) && value > 0)) throw new KeelError(code, `${name} must be a positive integer, got ${value}.`);
}

export function matchesFilter(metadata: Readonly<Record<string, unknown>>, filter: Readonly<Record<string, unknown>> | undefined): boolean {
  if (filter === undefined) return true;
  for (const [key, value] of Object.entries(filter)) if (metadata[key] !== value) return false;
  return true;
}

const filterKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Filter keys reach SQL as JSON paths, so they are restricted to identifiers. */
export function checkFilterKeys(filter: Readonly<Record<string, unknown>> | undefined): void {
  for (const key of Object.keys(filter ?? {})) {
    if (!filterKeyPattern.test(key)) throw new KeelError('invalid-argument', `Filter key "${key}" must be an identifier (${filterKeyPattern}).`);
  }
}
