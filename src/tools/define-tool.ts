import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import type { ToolSpec } from '../spec/model.ts';

export type ToolRisk = 'read' | 'write' | 'irreversible';

/** What a tool's `execute` receives besides its validated input. */
export interface ToolContext {
  readonly sessionId: string;
  readonly turn: number;
  readonly callId: string;
  /** Stable across retries and resumes of the same call: a side-effecting tool deduplicates on it at its far end. */
  readonly idempotencyKey: string;
  /** Aborted on timeout or cancellation; a well-behaved tool stops when it fires. */
  readonly signal: AbortSignal;
}

export interface ToolOptions<Schema extends z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly input: Schema;
  /** Defaults to `write`: a tool is assumed to change something unless it says it only reads. */
  readonly risk?: ToolRisk;
  readonly scopes?: readonly string[];
  /** Defaults to 30 seconds. */
  readonly timeoutMs?: number;
  /** Returns text for the model; any other value is sent as JSON. */
  readonly execute: (input: z.output<Schema>, context: ToolContext) => unknown;
}

export interface ToolDefinition {
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly risk: ToolRisk;
  readonly scopes: readonly string[];
  readonly timeoutMs: number;
  readonly execute: (input: unknown, context: ToolContext) => unknown;
}

const toolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/;

export function defineTool<Schema extends z.ZodType>(options: ToolOptions<Schema>): ToolDefinition {
  if (!toolNamePattern.test(options.name)) {
    throw new KeelError('invalid-config', `Tool name "${options.name}" must match ${toolNamePattern} (both providers require it).`);
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(timeoutMs > 0)) throw new KeelError('invalid-config', `Tool "${options.name}": timeoutMs must be positive, got ${timeoutMs}.`);
  const inputSchema = z.toJSONSchema(options.input, { target: 'draft-7', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete inputSchema.$schema;
  if (inputSchema.type !== 'object') {
    throw new KeelError('invalid-config', `Tool "${options.name}": input must be a zod object schema, since providers take an object of arguments.`);
  }
  return {
    name: options.name,
    description: options.description,
    input: options.input,
    inputSchema,
    risk: options.risk ?? 'write',
    scopes: options.scopes ?? [],
    timeoutMs,
    execute: options.execute as (input: unknown, context: ToolContext) => unknown,
  };
}

export function toToolSpec(tool: ToolDefinition): ToolSpec {
  return { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
}
