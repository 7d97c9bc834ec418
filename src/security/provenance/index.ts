export { ProvenanceIndex } from './provenance-index.ts';
export type { ItemReference, LeakTrace, ProvenanceIndexOptions, ProvenanceItem, ValueTrace } from './provenance-index.ts';
export type { InformationFlowContext, TaintSource } from './flow-context.ts';
export { forEachAtom, normalizeForTracing, shingleWords } from './value-atoms.ts';
export type { Atom, AtomKind } from './value-atoms.ts';
