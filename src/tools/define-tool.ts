import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import { compileRevealPolicy } from '../security/redaction-policy.ts';
import type { ToolRedactionPolicy } from '../security/redaction-policy.ts';
import type { ModelRequest, ModelResponse, ToolSpec } from '../spec/model.ts';
import type { ToolRisk } from '../spec/tool-risk.ts';
import type { UntrustedReader } from '../security/quarantine/index.ts';
import { isUntrustedProvenance, untrustedProvenances } from '../spec/provenance.ts';
import type { UntrustedProvenance } from '../spec/provenance.ts';

export type { ToolRisk };

/** What a tool's `execute` receives besides its validated input. */
export interface ToolContext {
  readonly sessionId: string;
  readonly turn: number;
  readonly callId: string;
  /** Stable across retries and resumes of the same call: a side-effecting tool deduplicates on it at its far end. */
  readonly idempotencyKey: string;
  /** Aborted on timeout or cancellation; a well-behaved tool stops when it fires. */
  readonly signal: AbortSignal;
  /**
   * The quarantined reader (`readUntrusted`) bound to the session: a tool-less model call that extracts typed fields
   * from untrusted content, journaled as `quarantined-read`. Present when the tool runs in a Keel session.
   */
  readonly readUntrusted?: UntrustedReader;
  /**
   * A tool-less model call on the session's model (an MCP server's sampling request, for one), journaled as a
   * `side-call` of this call and counted in the session's usage and cost, so its budgets see it. Present when the
   * tool runs in a Keel session.
   */
  readonly sample?: (request: ModelRequest, options: { readonly signal: AbortSignal; readonly purpose: string }) => Promise<ModelResponse>;
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
  /**
   * Undoes a completed call when the task fails or is cancelled later (a saga step). It receives the
   * call's input and output and its own idempotency key, and must itself be idempotent.
   */
  readonly compensate?: (input: z.output<Schema>, output: string, context: ToolContext) => unknown;
  /** Characters of output the model sees; the full output is kept as a blob. Defaults to 16,000. */
  readonly maxOutputChars?: number;
  /** An error from a critical tool ends the session as failed (and runs the saga's compensations) instead of going back to the model. */
  readonly critical?: boolean;
  /**
   * Personal data the model may see in this tool's output, for example `{ reveal: ['email'] }` for a tool that
   * looks up the address to reply to. Nothing by default; secrets are always redacted. Spans, logs and audit
   * records redact everything regardless (see docs/redaction.md).
   */
  readonly redaction?: ToolRedactionPolicy;
  /**
   * Where this tool's output comes from, for the trust layout and information-flow control: `web` for pages
   * fetched from the internet, `retrieved` for a document search, `subagent` for a child agent's answer, … Defaults
   * to `tool` (`mcp` for tools of MCP servers). Every label is untrusted: the model reads it as data, never as orders.
   */
  readonly provenance?: UntrustedProvenance;
  /** The output is secret (credentials, private records): no outbound tool may carry text of it. */
  readonly secret?: boolean;
  /**
   * Arguments (top-level names, or dotted paths such as `payment.iban`) whose values must not come from untrusted
   * content without a person's approval. Defaults to every argument for `write` and `irreversible` tools; `[]`
   * declares that no argument is a sink. See docs/injection-defence.md.
   */
  readonly sinks?: readonly string[];
  /** The tool sends data out of the process (e-mail, HTTP, messages): its sinks may not carry the system prompt or secret output. */
  readonly outbound?: boolean;
  /**
   * Declares that `execute` deduplicates on `context.idempotencyKey` at its far end, so a call re-run after a crash
   * changes nothing twice. Keel cannot read this from the code: `keel check` requires every `write` or
   * `irreversible` tool to declare it or to have a `compensate`.
   */
  readonly idempotent?: boolean;
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
  readonly compensate: ((input: unknown, output: string, context: ToolContext) => unknown) | null;
  readonly maxOutputChars: number;
  readonly critical: boolean;
  /** Where the tool came from: `local`, or `mcp:<server>` for tools an MCP server describes (untrusted text). */
  readonly source: string;
  /** The policy's default for it is `ask` whatever its risk: set for tools of MCP servers not marked trusted (see docs/tool-names-and-trust.md). */
  readonly requiresApproval?: boolean;
  /** Personal data the model may see in this tool's output; absent reveals nothing. */
  readonly redaction?: ToolRedactionPolicy;
  /** The declared provenance of the output; absent is `tool` (`mcp` for MCP tools). */
  readonly provenance?: UntrustedProvenance;
  readonly secret?: boolean;
  /** Argument paths checked by information-flow control; absent means every argument of a write or irreversible tool. */
  readonly sinks?: readonly string[];
  readonly outbound?: boolean;
  /**
   * Declared: `execute` deduplicates on its idempotency key (see `ToolOptions.idempotent`); for an MCP tool, its
   * trusted server marks it `idempotentHint`.
   */
  readonly idempotent?: boolean;
}

const toolNamePattern = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * A tool the model can call: its input is validated against the zod schema before `execute` runs.
 * @example
 * ```ts
 * const lookupOrder = defineTool({
 *   name: 'lookup_order',
 *   description: 'Looks up an order by its number: status, items, shipping date.',
 *   input: z.object({ orderId: z.string().regex(/^\d+$/) }),
 *   risk: 'read',
 *   execute: async ({ orderId }, { signal }) => {
 *     const response = await fetch(`https://orders.example.com/orders/${orderId}`, { signal });
 *     if (!response.ok) throw new Error(`The order service answered ${response.status}.`);
 *     return response.json();
 *   },
 * });
 * ```
 */
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
    compensate: (options.compensate as ((input: unknown, output: string, context: ToolContext) => unknown) | undefined) ?? null,
    maxOutputChars: options.maxOutputChars ?? 16_000,
    critical: options.critical ?? false,
    source: 'local',
    ...(options.idempotent === true ? { idempotent: true } : {}),
    // Checked here, so that a policy naming a secret fails when the tool is defined, not when it first runs.
    ...(options.redaction === undefined ? {} : { redaction: checkedPolicy(options.redaction, options.name) }),
    ...flowDeclarations(options, inputSchema),
  };
}

/** The information-flow declarations, checked: a provenance that exists, sinks that name arguments of the schema. */
function flowDeclarations(options: ToolOptions<z.ZodType>, inputSchema: Record<string, unknown>): Pick<ToolDefinition, 'provenance' | 'secret' | 'sinks' | 'outbound'> {
  if (options.provenance !== undefined && !isUntrustedProvenance(options.provenance)) {
    throw new KeelError('invalid-config', `Tool "${options.name}": provenance must be one of ${untrustedProvenances.join(', ')}, got ${JSON.stringify(options.provenance)}; system and user are trusted and cannot be declared by a tool.`);
  }
  const properties = (inputSchema.properties ?? {}) as Record<string, unknown>;
  for (const sink of options.sinks ?? []) {
    const top = sink.split('.')[0] ?? '';
    if (!Object.hasOwn(properties, top)) {
      throw new KeelError('invalid-config', `Tool "${options.name}": sink "${sink}" names no argument of its input; arguments: ${Object.keys(properties).join(', ') || 'none'}.`);
    }
  }
  return {
    ...(options.provenance === undefined ? {} : { provenance: options.provenance }),
    ...(options.secret === true ? { secret: true } : {}),
    ...(options.sinks === undefined ? {} : { sinks: [...options.sinks] }),
    ...(options.outbound === true ? { outbound: true } : {}),
  };
}

function checkedPolicy(policy: ToolRedactionPolicy, name: string): ToolRedactionPolicy {
  compileRevealPolicy(policy, `Tool "${name}"`);
  return policy;
}

export function toToolSpec(tool: ToolDefinition): ToolSpec {
  return { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
}
