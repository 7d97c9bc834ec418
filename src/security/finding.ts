/**
 * What a scan of text found: redaction reports one finding per kind of secret or personal data it
 * replaced, and the injection detectors plug in with the same shape. Counts, never the matched text,
 * so a finding can be logged, journaled and audited without leaking what it describes.
 */
export interface Finding {
  /** A stable kind, for example `email`, `anthropic-key`, or a detector's own `injection:…` name. */
  readonly type: string;
  readonly count: number;
}

/** Adds up findings of the same type, keeping the order in which each type first appeared. */
export function mergeFindings(findings: Iterable<Finding>): readonly Finding[] {
  const counts = new Map<string, number>();
  for (const finding of findings) counts.set(finding.type, (counts.get(finding.type) ?? 0) + finding.count);
  return [...counts].map(([type, count]) => ({ type, count }));
}
