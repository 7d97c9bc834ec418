// What every adapter of the turn-overhead benchmark provides. One adapter per client (a bare loop or Keel in
// some configuration); `bench/measure.ts` loads exactly one of them into a fresh process.

export interface BenchAdapter {
  /** The name used on the command line and in the results. */
  readonly name: string;
  /** One line for the results table's legend. */
  readonly description: string;
  /** Whether its model calls stream (SSE); the measurement checks the mock's streamed-request count against it. */
  readonly streaming: boolean;
  /** Builds what is reused by every session of the process (clients, the Keel instance, the agent). */
  setup?(baseURL: string): Promise<void> | void;
  /** Runs one session of the workload to its end and throws unless it ended as the workload says. */
  runSession(baseURL: string): Promise<void>;
  /** Extra figures for the result line (for example the journal's size on disk), taken before teardown. */
  report?(): Promise<Readonly<Record<string, number | string>>> | Readonly<Record<string, number | string>>;
  teardown?(): Promise<void> | void;
  versions?(): Readonly<Record<string, string>>;
}
