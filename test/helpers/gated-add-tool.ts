import { z } from 'zod';
import { defineTool } from '../../src/tools/index.ts';
import type { ToolDefinition } from '../../src/tools/index.ts';

export interface GatedAddTool {
  /** `add`: returns a + b, but the call with `a === gatedAt` waits for `open()`. */
  readonly tool: ToolDefinition;
  /** Resolves once the gated call has started (the session is mid-run and waiting on it). */
  readonly reached: Promise<void>;
  readonly open: () => void;
}

/** An `add` tool whose call at `a === gatedAt` holds the session mid-run until the test opens the gate. */
export function gatedAddTool(gatedAt: number): GatedAddTool {
  let reachedGate = (): void => undefined;
  const reached = new Promise<void>((resolve) => {
    reachedGate = resolve;
  });
  let open = (): void => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const tool = defineTool({
    name: 'add',
    description: 'Adds.',
    input: z.object({ a: z.number(), b: z.number() }),
    risk: 'read',
    execute: async ({ a, b }) => {
      if (a === gatedAt) {
        reachedGate();
        await gate;
      }
      return String(a + b);
    },
  });
  return { tool, reached, open };
}
