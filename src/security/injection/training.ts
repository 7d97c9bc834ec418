import { encodeWeights, LinearClassifier, weightsFormat } from './classifier.ts';
import type { ClassifierWeightsFile } from './classifier.ts';
import { featureValue, sentenceFeatures, sentenceSpans } from './features.ts';
import { normalizeForDetection } from './normalize.ts';

/**
 * Training of the layer-2 classifier, deterministic to the bit: fixed row order, a seeded shuffle, float64
 * arithmetic in one order, and 8-bit quantization of the result. The input is labelled rows; reading the dataset
 * and writing the weights file is scripts/train-injection-detector.ts.
 *
 * The labels are per document but an injection is usually one or two sentences inside it, so training is
 * multiple-instance: every window of a benign document is a negative; an injected document first contributes all of
 * its windows, then, in later rounds, only the windows the current model finds most suspicious.
 */
export interface TrainingRow {
  readonly id: string;
  readonly text: string;
  readonly injection: boolean;
  /** Rows of one group share weight (for example a file and label), so one large source cannot dominate. */
  readonly group: string;
}

export interface TrainingSettings {
  readonly dimensions: number;
  readonly rounds: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly seed: number;
  /** Windows per injected document kept as positives after the first round. */
  readonly positivesPerDocument: number;
  /** Out-of-fold false-positive rate on benign rows that the calibrated threshold allows. */
  readonly targetFalsePositiveRate: number;
  readonly folds: number;
  /** Characters of a row used; rows are documents of a few kilobytes, this bounds the odd outlier. */
  readonly maxRowChars: number;
  /** A sentence in at least this many injected rows of one group is template background, not attack. */
  readonly templateFrequency: number;
}

export const defaultTrainingSettings: TrainingSettings = {
  dimensions: 1 << 18,
  rounds: 2,
  epochs: 5,
  learningRate: 0.2,
  l2: 1e-5,
  seed: 20_251_207,
  positivesPerDocument: 2,
  targetFalsePositiveRate: 0.01,
  folds: 5,
  maxRowChars: 32_768,
  templateFrequency: 50,
};

interface Document {
  readonly row: TrainingRow;
  readonly weight: number;
  /** Feature indices per sentence. */
  readonly sentences: readonly Int32Array[];
  /** Per sentence: whether it is background (in a benign row, or a template of many injected rows): not the injection. */
  readonly seenInBenign: readonly boolean[];
}

/** A window is one sentence or two adjacent ones of a document. */
interface Window {
  readonly document: number;
  readonly first: number;
  readonly last: number;
}

function prepare(rows: readonly TrainingRow[], settings: TrainingSettings): Document[] {
  const groupSizes = new Map<string, number>();
  for (const row of rows) groupSizes.set(row.group, (groupSizes.get(row.group) ?? 0) + 1);
  const views = rows.map((row) => normalizeForDetection(row.text.slice(0, settings.maxRowChars)).text);
  const spans = views.map((text) => sentenceSpans(text));
  const benignSentences = new Set<string>();
  // How many injected rows of each group hold a sentence: a sentence in very many of them is the template the
  // attacks were pasted into (a product-review JSON, a bank e-mail's footer), not the attack.
  const injectedFrequency = new Map<string, number>();
  rows.forEach((row, index) => {
    const sentences = new Set(spans[index]!.map(([start, end]) => views[index]!.slice(start, end).trim()));
    for (const sentence of sentences) {
      if (!row.injection) benignSentences.add(sentence);
      else injectedFrequency.set(`${row.group}\u0000${sentence}`, (injectedFrequency.get(`${row.group}\u0000${sentence}`) ?? 0) + 1);
    }
  });
  const isBackground = (row: TrainingRow, sentence: string): boolean =>
    benignSentences.has(sentence) || (injectedFrequency.get(`${row.group}\u0000${sentence}`) ?? 0) >= settings.templateFrequency;
  return rows.map((row, index) => {
    const text = views[index]!;
    const sentences = spans[index]!.map(([start, end]) => Int32Array.from(sentenceFeatures(text, start, end, settings.dimensions)));
    const seenInBenign = spans[index]!.map(([start, end]) => row.injection && isBackground(row, text.slice(start, end).trim()));
    // Each group weighs the square root of its size: large sources count more, but not linearly more.
    const size = groupSizes.get(row.group)!;
    return { row, weight: Math.sqrt(size) / size, sentences, seenInBenign };
  });
}

function windowsOf(documentIndex: number, document: Document): Window[] {
  const windows: Window[] = [];
  for (let index = 0; index < document.sentences.length; index += 1) {
    windows.push({ document: documentIndex, first: index, last: index });
    if (index > 0) windows.push({ document: documentIndex, first: index - 1, last: index });
  }
  return windows;
}

/** mulberry32: a small seeded generator, the same sequence on every platform. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [items[index], items[other]] = [items[other]!, items[index]!];
  }
}

class Model {
  readonly weights: Float64Array;
  bias = 0;
  private readonly squares: Float64Array;
  private biasSquare = 1e-8;

  constructor(dimensions: number) {
    this.weights = new Float64Array(dimensions);
    this.squares = new Float64Array(dimensions).fill(1e-8);
  }

  /** Each feature occurrence's value in a window, as LinearClassifier scores it. */
  static featureValue(sentences: readonly Int32Array[], first: number, last: number): number {
    let count = 0;
    for (let sentence = first; sentence <= last; sentence += 1) count += sentences[sentence]!.length;
    return featureValue(count);
  }

  margin(sentences: readonly Int32Array[], first: number, last: number): number {
    let sum = 0;
    for (let sentence = first; sentence <= last; sentence += 1) for (const feature of sentences[sentence]!) sum += this.weights[feature]!;
    return this.bias + sum * Model.featureValue(sentences, first, last);
  }

  /** One AdaGrad step of weighted logistic loss, with L2 on the touched weights. */
  update(sentences: readonly Int32Array[], first: number, last: number, label: number, weight: number, settings: TrainingSettings): void {
    const probability = 1 / (1 + Math.exp(-this.margin(sentences, first, last)));
    const gradient = (probability - label) * weight;
    const value = Model.featureValue(sentences, first, last);
    for (let sentence = first; sentence <= last; sentence += 1) {
      for (const feature of sentences[sentence]!) {
        const step = gradient * value + settings.l2 * this.weights[feature]!;
        this.squares[feature] = this.squares[feature]! + step * step;
        this.weights[feature] = this.weights[feature]! - (settings.learningRate * step) / Math.sqrt(this.squares[feature]!);
      }
    }
    this.biasSquare += gradient * gradient;
    this.bias -= (settings.learningRate * gradient) / Math.sqrt(this.biasSquare);
  }
}

interface Example {
  readonly window: Window;
  readonly label: number;
  readonly weight: number;
}

function examplesFor(documents: readonly Document[], model: Model | undefined, settings: TrainingSettings): Example[] {
  const examples: Example[] = [];
  documents.forEach((document, index) => {
    let windows = windowsOf(index, document);
    // An injected document's positives are windows without background sentences: those are not the injection.
    if (document.row.injection) windows = windows.filter((window) => !document.seenInBenign[window.first] && !document.seenInBenign[window.last]);
    if (windows.length === 0) return;
    if (document.row.injection && model !== undefined) {
      const margins = windows.map((window) => model.margin(document.sentences, window.first, window.last));
      windows = windows.map((window, position) => ({ window, margin: margins[position]! }))
        .sort((first, second) => second.margin - first.margin || first.window.first - second.window.first || first.window.last - second.window.last)
        .slice(0, settings.positivesPerDocument)
        .map((entry) => entry.window);
    }
    const weight = document.weight / Math.sqrt(windows.length);
    for (const window of windows) examples.push({ window, label: document.row.injection ? 1 : 0, weight });
  });
  return examples;
}

function trainModel(documents: readonly Document[], settings: TrainingSettings): Model {
  let model: Model | undefined;
  for (let round = 0; round < settings.rounds; round += 1) {
    const examples = examplesFor(documents, model, settings);
    const next = new Model(settings.dimensions);
    const random = seededRandom(settings.seed + round);
    for (let epoch = 0; epoch < settings.epochs; epoch += 1) {
      shuffle(examples, random);
      for (const example of examples) {
        const document = documents[example.window.document]!;
        next.update(document.sentences, example.window.first, example.window.last, example.label, example.weight, settings);
      }
    }
    model = next;
  }
  return model!;
}

/** The 8-bit form of a model, as the weights file stores it. */
function quantize(model: Model): { scale: number; quantized: Int8Array } {
  let largest = 0;
  for (const weight of model.weights) largest = Math.max(largest, Math.abs(weight));
  const scale = largest === 0 ? 1 : largest / 127;
  const quantized = new Int8Array(model.weights.length);
  for (let index = 0; index < model.weights.length; index += 1) quantized[index] = Math.max(-127, Math.min(127, Math.round(model.weights[index]! / scale)));
  return { scale, quantized };
}

function toFile(model: Model, threshold: number, extra: { calibration: Record<string, unknown>; training: Record<string, unknown> }): ClassifierWeightsFile {
  const { scale, quantized } = quantize(model);
  return { format: weightsFormat, dimensions: model.weights.length, bias: model.bias, scale, weights: encodeWeights(quantized), threshold, ...extra };
}

function foldOf(id: string, folds: number): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < id.length; index += 1) hash = Math.imul(hash ^ id.charCodeAt(index), 0x01000193) >>> 0;
  return hash % folds;
}

/** Out-of-fold probabilities, each row scored by the quantized model trained without its fold. */
function outOfFoldScores(documents: readonly Document[], settings: TrainingSettings): Float64Array {
  const scores = new Float64Array(documents.length);
  for (let fold = 0; fold < settings.folds; fold += 1) {
    const training = documents.filter((document) => foldOf(document.row.id, settings.folds) !== fold);
    const classifier = new LinearClassifier(toFile(trainModel(training, settings), 0.5, { calibration: {}, training: {} }));
    documents.forEach((document, index) => {
      if (foldOf(document.row.id, settings.folds) !== fold) return;
      const view = normalizeForDetection(document.row.text.slice(0, settings.maxRowChars));
      scores[index] = classifier.bestWindow(view.text)?.probability ?? 0;
    });
  }
  return scores;
}

/** The lowest threshold whose out-of-fold false-positive rate on benign rows stays within the target. */
function calibrate(documents: readonly Document[], scores: Float64Array, settings: TrainingSettings): Record<string, number> {
  const benign = documents.map((document, index) => ({ document, score: scores[index]! })).filter((entry) => !entry.document.row.injection).map((entry) => entry.score).sort((first, second) => second - first);
  const allowed = Math.floor(benign.length * settings.targetFalsePositiveRate);
  const threshold = Math.min(0.9999, Math.max(0.05, (benign[allowed] ?? 0) + 1e-6));
  const injected = documents.filter((document) => document.row.injection);
  const caught = documents.filter((document, index) => document.row.injection && scores[index]! >= threshold).length;
  const falsePositives = benign.filter((score) => score >= threshold).length;
  return {
    threshold: Number(threshold.toFixed(6)),
    outOfFoldTruePositiveRate: injected.length === 0 ? 0 : caught / injected.length,
    outOfFoldFalsePositiveRate: benign.length === 0 ? 0 : falsePositives / benign.length,
    benignRows: benign.length,
    injectedRows: injected.length,
  };
}

/** Trains, calibrates by k-fold, and returns the weights file; the same rows and settings give the same bytes. */
export function trainInjectionClassifier(rows: readonly TrainingRow[], settings: TrainingSettings = defaultTrainingSettings, training: Record<string, unknown> = {}, onOutOfFold?: (scores: Float64Array) => void): ClassifierWeightsFile {
  const documents = prepare(rows, settings);
  const scores = outOfFoldScores(documents, settings);
  onOutOfFold?.(scores);
  const calibration = calibrate(documents, scores, settings);
  const { threshold, ...measured } = calibration;
  const model = trainModel(documents, settings);
  return toFile(model, threshold!, {
    calibration: { method: `${settings.folds}-fold out-of-fold, target false-positive rate ${settings.targetFalsePositiveRate}`, ...measured },
    training: { ...training, rows: rows.length, settings },
  });
}
