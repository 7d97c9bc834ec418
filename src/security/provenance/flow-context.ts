import type { Provenance } from '../../spec/provenance.ts';
import type { ProvenanceIndex } from './provenance-index.ts';

/** An untrusted item the injection detectors flagged: from then on the session is tainted. */
export interface TaintSource {
  /** The item (`call:<callId>`). */
  readonly item: string;
  readonly tool?: string;
  readonly provenance: Provenance;
  /** The first rule that fired, `layer:rule`. */
  readonly rule: string;
  readonly score: number;
}

/**
 * What information-flow control knows about a session when a call is decided: where every piece of its context came
 * from, whether untrusted content with a detection has entered it, and what an escalated call gets.
 */
export interface InformationFlowContext {
  readonly index: ProvenanceIndex;
  readonly taint: readonly TaintSource[];
  /** `ask` (the default) puts an escalated call before a person; `deny` refuses it. */
  readonly escalate: 'ask' | 'deny';
}
