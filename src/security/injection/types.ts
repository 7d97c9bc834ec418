/** Which detector produced a finding: the phrase rules, the learned classifier, or the embedding scorer. */
export type InjectionLayer = 'rules' | 'classifier' | 'embedding';

/**
 * One suspicious span. `start`/`end` are UTF-16 offsets into the ORIGINAL text that was scanned (as `String.slice`
 * takes them), even when the match was found after decoding or folding (base64, percent-encoding, look-alike
 * letters): the span covers the original characters the matched text came from.
 */
export interface InjectionFinding {
  readonly layer: InjectionLayer;
  /** A stable identifier: a rule id such as `override.ignore-previous`, or `classifier.linear` / `embedding.outlier`. */
  readonly rule: string;
  readonly start: number;
  readonly end: number;
  /** How strongly this finding alone indicates an injection, 0..1. */
  readonly score: number;
}

/** The verdict on one text. */
export interface InjectionScan {
  /** True when at least one enabled layer reached its threshold. */
  readonly injection: boolean;
  /** The highest layer score, 0..1; compare across texts, not as a probability across layers. */
  readonly score: number;
  /** Findings in order of `start`; empty when nothing was suspicious. */
  readonly findings: readonly InjectionFinding[];
  /** True when the text was longer than the detector's cap and only its first `maxScanChars` were scanned. */
  readonly truncated: boolean;
}

/**
 * Turns text into a vector, for the optional embedding layer. Synchronous on purpose: the scanner runs inside the
 * tool pipeline and must not wait on a network call; wrap a cached or local embedder.
 */
export type InjectionEmbedder = (text: string) => readonly number[] | Float32Array;

/** The optional embedding layer: a reference set of normal content per source, and how far is too far. */
export interface InjectionEmbeddingOptions {
  readonly embed: InjectionEmbedder;
  /** Vectors of ordinary content, per source label (`tool`, `web`, …); `default` is used for other sources. */
  readonly reference: Readonly<Record<string, readonly (readonly number[] | Float32Array)[]>>;
  /** Flag when the best cosine similarity to the reference is below this (default 0.35). */
  readonly minSimilarity?: number;
}

export interface InjectionDetectorOptions {
  /** Layers to run; default rules and classifier (and embedding when `embedding` is given). */
  readonly layers?: readonly InjectionLayer[];
  /** Texts longer than this are scanned in their first `maxScanChars` characters only (default 1,048,576). */
  readonly maxScanChars?: number;
  /** Classifier threshold override, 0..1; default the calibrated threshold stored with the weights. */
  readonly classifierThreshold?: number;
  readonly embedding?: InjectionEmbeddingOptions;
}

export interface InjectionScanOptions {
  /** Where the text came from (a provenance label such as `tool`, `web`, `retrieved`); picks the embedding reference. */
  readonly source?: string;
  /** Restrict this scan to some of the detector's layers. */
  readonly layers?: readonly InjectionLayer[];
}

/** A detector with its compiled rules and loaded weights, reusable across scans. */
export interface InjectionDetector {
  scan(text: string, options?: InjectionScanOptions): InjectionScan;
}
