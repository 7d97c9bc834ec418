import { readFileSync } from 'node:fs';
import { KeelError } from '../../errors/index.ts';
import { featureValue, sentenceSpans, visitSentenceFeatures } from './features.ts';
import { originalSpan } from './text-view.ts';
import type { TextView } from './text-view.ts';

/**
 * Layer 2: a logistic regression over hashed features of one or two adjacent sentences. A document's score is its
 * most suspicious window, so an instruction hidden in a long e-mail is not diluted by the rest of the e-mail. The
 * weights were trained by scripts/train-injection-detector.ts on the training split only and are stored as JSON in
 * classifier-weights.json beside this file, quantized to 8 bits and sparse.
 */
export const weightsFormat = 'keel-injection-linear/1';

export interface ClassifierWeightsFile {
  readonly format: string;
  readonly dimensions: number;
  readonly bias: number;
  /** A stored weight is `q * scale` for its 8-bit value q. */
  readonly scale: number;
  /** Base64 of the nonzero weights: per entry a varint index delta then a signed byte. */
  readonly weights: string;
  /** The calibrated decision threshold on the window probability. */
  readonly threshold: number;
  readonly calibration: Readonly<Record<string, unknown>>;
  readonly training: Readonly<Record<string, unknown>>;
}

/** Encodes weights that quantize to nonzero as (varint gap, int8) pairs. */
export function encodeWeights(quantized: Int8Array): string {
  const bytes: number[] = [];
  let last = -1;
  for (let index = 0; index < quantized.length; index += 1) {
    if (quantized[index] === 0) continue;
    let gap = index - last - 1;
    while (gap >= 0x80) {
      bytes.push((gap & 0x7f) | 0x80);
      gap >>>= 7;
    }
    bytes.push(gap);
    bytes.push(quantized[index]! & 0xff);
    last = index;
  }
  return Buffer.from(bytes).toString('base64');
}

export function decodeWeights(encoded: string, dimensions: number, scale: number): Float32Array {
  const bytes = Buffer.from(encoded, 'base64');
  const weights = new Float32Array(dimensions);
  let index = -1;
  let offset = 0;
  while (offset < bytes.length) {
    let gap = 0;
    let shift = 0;
    let byte = bytes[offset++]!;
    while (byte & 0x80) {
      gap |= (byte & 0x7f) << shift;
      shift += 7;
      byte = bytes[offset++]!;
    }
    gap |= byte << shift;
    index += gap + 1;
    const value = bytes[offset++]!;
    if (index >= dimensions || value === undefined) throw new KeelError('invalid-config', `The injection classifier weights are corrupt (entry ${index} of ${dimensions}); restore classifier-weights.json or retrain with scripts/train-injection-detector.ts.`);
    weights[index] = (value > 127 ? value - 256 : value) * scale;
  }
  return weights;
}

export interface WindowScore {
  /** Normalized-text range of the window. */
  readonly start: number;
  readonly end: number;
  readonly probability: number;
}

function sigmoid(value: number): number {
  return 1 / (1 + Math.exp(-value));
}

export class LinearClassifier {
  readonly dimensions: number;
  readonly threshold: number;
  private readonly bias: number;
  private readonly weights: Float32Array;

  constructor(file: ClassifierWeightsFile) {
    if (file.format !== weightsFormat || !Number.isInteger(Math.log2(file.dimensions))) {
      throw new KeelError('invalid-config', `The injection classifier weights have format ${JSON.stringify(file.format)} with ${file.dimensions} dimensions; this Keel reads ${weightsFormat} with a power-of-two size. Retrain with scripts/train-injection-detector.ts.`);
    }
    this.dimensions = file.dimensions;
    this.threshold = file.threshold;
    this.bias = file.bias;
    this.weights = decodeWeights(file.weights, file.dimensions, file.scale);
  }

  private sentenceSum(text: string, start: number, end: number): { sum: number; count: number } {
    const weights = this.weights;
    const total = {
      sum: 0,
      count: 0,
      push(feature: number): void {
        total.sum += weights[feature]!;
        total.count += 1;
      },
    };
    visitSentenceFeatures(text, start, end, this.dimensions, total);
    return { sum: total.sum, count: total.count };
  }

  /** A window's probability, each feature weighted by `featureValue` of the window's size. */
  private probability(sum: number, count: number): number {
    return sigmoid(this.bias + sum * featureValue(count));
  }

  /** The most suspicious window (one sentence or two adjacent ones) of normalized text; null for empty text. */
  bestWindow(text: string): WindowScore | null {
    const spans = sentenceSpans(text);
    let best: WindowScore | null = null;
    let previous = { sum: 0, count: 0 };
    for (let index = 0; index < spans.length; index += 1) {
      const [start, end] = spans[index]!;
      const current = this.sentenceSum(text, start, end);
      const single = this.probability(current.sum, current.count);
      if (best === null || single > best.probability) best = { start, end, probability: single };
      if (index > 0) {
        const pair = this.probability(previous.sum + current.sum, previous.count + current.count);
        if (pair > best.probability) best = { start: spans[index - 1]![0], end, probability: pair };
      }
      previous = current;
    }
    return best;
  }

  /** The best window with its span mapped back to the original text. */
  scoreView(view: TextView): { probability: number; start: number; end: number } {
    const best = this.bestWindow(view.text);
    if (best === null) return { probability: this.probability(0, 0), start: 0, end: 0 };
    return { probability: best.probability, ...originalSpan(view, best.start, best.end) };
  }
}

let bundled: LinearClassifier | undefined;

/** The classifier trained on the training split, loaded once from the weights file shipped beside this module. */
export function bundledClassifier(): LinearClassifier {
  if (bundled !== undefined) return bundled;
  const location = new URL('./classifier-weights.json', import.meta.url);
  let file: ClassifierWeightsFile;
  try {
    file = JSON.parse(readFileSync(location, 'utf8')) as ClassifierWeightsFile;
  } catch (error) {
    throw new KeelError('invalid-config', `Cannot read the injection classifier weights at ${location.pathname}: ${error instanceof Error ? error.message : String(error)}. Reinstall Keel or retrain with scripts/train-injection-detector.ts.`, { cause: error });
  }
  bundled = new LinearClassifier(file);
  return bundled;
}
