/** A tool's recorded outcome, kept by idempotency key so a call re-run after a crash returns it instead of running again. */
export interface RecordedToolOutcome {
  readonly ok: boolean;
  readonly output: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly fullOutputBlob: string | null;
  readonly recordedAt: number;
}

export interface IdempotencyStore {
  /**
   * True when a recorded outcome outlives the process (a database). Only then may the loop write the event of a
   * recorded outcome with the session's next append instead of alone: a crash in between is answered from the
   * record. Unset or false (a store in memory): every outcome's event is written as soon as it is known.
   */
  readonly durable?: boolean;
  get(key: string): Promise<RecordedToolOutcome | undefined>;
  /** First write wins: recording a key twice keeps the first outcome. */
  put(key: string, outcome: RecordedToolOutcome): Promise<void>;
}
