import type { ToolDefinition } from '../tools/index.ts';

export type Settlement = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

/**
 * Keeps hold of a tool's own promise. The pipeline stops waiting for a tool when the session is cancelled, but the
 * tool may go on and apply its effect: the loop needs the real promise to learn what happened within the grace period.
 */
export class ToolExecution {
  private running: Promise<unknown> | null = null;
  private settlement: Settlement | null = null;
  readonly tool: ToolDefinition;

  /** `tool` as the pipeline will run it: the same definition, with `timeoutMs` the call's timeout and its promise kept. */
  constructor(tool: ToolDefinition, timeoutMs: number) {
    this.tool = {
      ...tool,
      timeoutMs,
      execute: (input, context) => {
        const running = Promise.resolve().then(() => tool.execute(input, context));
        this.running = running;
        running.then(
          (value: unknown) => {
            this.settlement = { ok: true, value };
          },
          (error: unknown) => {
            this.settlement = { ok: false, error };
          },
        );
        return running;
      },
    };
  }

  /** Whether the tool itself was called: until then it cannot have done anything. */
  get started(): boolean {
    return this.running !== null;
  }

  get settled(): Settlement | null {
    return this.settlement;
  }

  /** The tool's settlement, waiting at most `graceMs` for it; null when it is still running after that. */
  async settleWithin(graceMs: number): Promise<Settlement | null> {
    const running = this.running;
    if (running === null || this.settlement !== null) return this.settlement;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    try {
      await Promise.race([running.then(() => undefined, () => undefined), grace]);
    } finally {
      clearTimeout(timer);
    }
    return this.settlement;
  }
}

/** The settled value of a tool that completed late, as a tool, so the pipeline's stages (sanitize, idempotency, audit) see it. */
export function replayOf(tool: ToolDefinition, value: unknown): ToolDefinition {
  return { ...tool, execute: () => value };
}
