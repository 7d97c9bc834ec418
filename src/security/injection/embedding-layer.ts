import { KeelError } from '../../errors/index.ts';
import type { InjectionEmbeddingOptions } from './types.ts';

/**
 * The embedding layer: content far from every reference vector of normal content for its source is unusual for that
 * source (a directive note inside product reviews). It only reports a distance; what "normal" is comes from the
 * reference the operator supplies, embedded with the same embedder.
 */
export const defaultMinSimilarity = 0.35;
/** Characters handed to the embedder: embedders truncate anyway, and a megabyte must not be sent whole. */
export const embeddedCharacters = 8192;

function norm(vector: ArrayLike<number>): number {
  let sum = 0;
  for (let index = 0; index < vector.length; index += 1) sum += vector[index]! * vector[index]!;
  return Math.sqrt(sum);
}

function cosine(first: ArrayLike<number>, firstNorm: number, second: ArrayLike<number>, secondNorm: number): number {
  if (first.length !== second.length) {
    throw new KeelError('invalid-config', `The injection embedding reference has vectors of ${second.length} dimensions but the embedder returned ${first.length}; embed the reference with the same embedder.`);
  }
  let dot = 0;
  for (let index = 0; index < first.length; index += 1) dot += first[index]! * second[index]!;
  return firstNorm === 0 || secondNorm === 0 ? 0 : dot / (firstNorm * secondNorm);
}

export interface EmbeddingVerdict {
  /** The best cosine similarity to the source's reference. */
  readonly similarity: number;
  readonly flagged: boolean;
}

export class EmbeddingLayer {
  private readonly options: InjectionEmbeddingOptions;
  private readonly norms = new Map<string, number[]>();
  readonly minSimilarity: number;

  constructor(options: InjectionEmbeddingOptions) {
    this.options = options;
    this.minSimilarity = options.minSimilarity ?? defaultMinSimilarity;
    if (!(this.minSimilarity >= -1 && this.minSimilarity <= 1)) {
      throw new KeelError('invalid-config', `embedding.minSimilarity must be a cosine similarity between -1 and 1, got ${String(options.minSimilarity)}.`);
    }
    for (const [source, vectors] of Object.entries(options.reference)) this.norms.set(source, vectors.map(norm));
  }

  /** Null when there is no reference for the source (nor a `default` one): nothing to compare with. */
  score(text: string, source: string | undefined): EmbeddingVerdict | null {
    const key = source !== undefined && this.options.reference[source] !== undefined ? source : 'default';
    const reference = this.options.reference[key];
    const norms = this.norms.get(key);
    if (reference === undefined || norms === undefined || reference.length === 0) return null;
    const vector = this.options.embed(text.slice(0, embeddedCharacters));
    const vectorNorm = norm(vector);
    let best = -1;
    for (let index = 0; index < reference.length; index += 1) best = Math.max(best, cosine(vector, vectorNorm, reference[index]!, norms[index]!));
    return { similarity: best, flagged: best < this.minSimilarity };
  }
}
