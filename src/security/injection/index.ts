export { createInjectionDetector, scanForInjection, calibratedScore, defaultMaxScanChars } from './detector.ts';
export { normalizeForDetection } from './normalize.ts';
export { injectionRules, ruleThreshold } from './rules.ts';
export type { InjectionRule } from './rules.ts';
export type { TextView } from './text-view.ts';
export type {
  InjectionDetector, InjectionDetectorOptions, InjectionEmbedder, InjectionEmbeddingOptions, InjectionFinding, InjectionLayer,
  InjectionScan, InjectionScanOptions,
} from './types.ts';
