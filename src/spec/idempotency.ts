/** A tool's recorded outcome, kept by idempotency key so a call re-run after a crash returns it instead of running again. */
export interface RecordedToolOutcome {
  readonly ok: boolean;
  readonly output: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly fullOutputBlob: string | null;
  readonly recordedAt: number;
}

export interface IdempotencyStore {
  get(key: string): Promise<RecordedToolOutcome | undefined>;
  /** First write wins: recording a key twice keeps the first outcome. */
  put(key: string, outcome: RecordedToolOutcome): Promise<void>;
}
