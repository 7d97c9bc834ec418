import { ToolSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ToolContext, ToolDefinition } from '../define-tool.ts';
import { normalizeToolName, printableToolName, unsafeToolNameCharacter } from '../../security/tool-name.ts';
import { compileInputSchema } from './json-schema-input.ts';
import { compileOutputSchema, type OutputCheck } from './mcp-structured-content.ts';
import { riskOverrideFor, type ResolvedMcpServerConfig } from './mcp-server-config.ts';
import { prefixedToolName } from './mcp-tool-name.ts';
import { mcpToolTrust } from './mcp-tool-risk.ts';

/** One call of a server's tool: its own (unprefixed) name and what the source needs to run and check it. */
export interface McpToolCall {
  readonly mcpToolName: string;
  readonly input: unknown;
  readonly context: ToolContext;
  readonly description: string;
  readonly outputCheck: OutputCheck;
  /** Whether running the call twice is harmless: a `read` tool, or one a trusted server marks `idempotentHint`. */
  readonly repeatable: boolean;
}

/** Runs a call; supplied by the tool source, which owns the connection. */
export type McpToolInvoker = (call: McpToolCall) => Promise<unknown>;

/** A tool the server listed that Keel cannot offer to the model, and why; kept so an operator can see it. */
export interface SkippedMcpTool {
  readonly name: string;
  readonly reason: string;
}

export interface McpToolDefinitions {
  readonly tools: readonly ToolDefinition[];
  readonly skipped: readonly SkippedMcpTool[];
}

/**
 * Turns a server's `tools/list` entries into ToolDefinitions. Each entry is checked on its own, so one malformed tool
 * costs only itself, not the whole server: the SDK's list schema would reject every tool for one bad entry. Names are
 * checked before anything else: one with an invisible or non-printing character, or one that reads the same as an
 * earlier tool's once case and separators are ignored, is refused, since either could slip past rules by name.
 */
export function toMcpToolDefinitions(config: ResolvedMcpServerConfig, listed: readonly unknown[], invoke: McpToolInvoker): McpToolDefinitions {
  const tools: ToolDefinition[] = [];
  const skipped: SkippedMcpTool[] = [];
  const taken = new Set<string>();
  const normalizedTaken = new Map<string, string>();
  for (const entry of listed) {
    const parsed = ToolSchema.safeParse(entry);
    if (!parsed.success) {
      skipped.push({ name: nameOf(entry), reason: `it does not match the MCP Tool shape: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(tool)'}: ${issue.message}`).join('; ')}` });
      continue;
    }
    const tool = parsed.data;
    if (tool.execution?.taskSupport === 'required') {
      skipped.push({ name: tool.name, reason: 'it can only run as an MCP task, which Keel does not support' });
      continue;
    }
    const nameProblem = refuseName(config.name, tool.name, normalizedTaken);
    if (nameProblem !== null) {
      skipped.push({ name: printableToolName(tool.name), reason: nameProblem });
      continue;
    }
    const name = prefixedToolName(config.name, tool.name);
    // MCP asks servers for unique names, but a server is untrusted: the first entry keeps a name, a repeat is dropped.
    if (taken.has(name)) {
      skipped.push({ name: tool.name, reason: `its name "${name}" repeats an earlier tool of this server` });
      continue;
    }
    const compiled = compileInputSchema(tool.inputSchema);
    if (!compiled.ok) {
      skipped.push({ name: tool.name, reason: compiled.reason });
      continue;
    }
    const output = compileOutputSchema(tool.outputSchema);
    if (!output.ok) {
      skipped.push({ name: tool.name, reason: output.reason });
      continue;
    }
    taken.add(name);
    normalizedTaken.set(normalizeToolName(tool.name), tool.name);
    const { risk, requiresApproval } = mcpToolTrust({ trust: config.trust, override: riskOverrideFor(config, tool.name), defaultRisk: config.defaultRisk, annotations: tool.annotations });
    const description = describe(config, tool);
    const repeatable = risk === 'read' || (config.trust === 'trusted' && tool.annotations?.idempotentHint === true);
    tools.push({
      name,
      description,
      input: compiled.input,
      inputSchema: providerSchema(tool.inputSchema),
      risk,
      ...(requiresApproval ? { requiresApproval } : {}),
      scopes: config.scopes,
      timeoutMs: config.timeoutMs,
      execute: (input, context) => invoke({ mcpToolName: tool.name, input, context, description, outputCheck: output.check, repeatable }),
      compensate: null,
      maxOutputChars: 16_000,
      critical: false,
      source: `mcp:${config.name}`,
      // A trusted server's idempotentHint is the server's own declaration that repeating a call changes nothing more.
      ...(repeatable && risk !== 'read' ? { idempotent: true } : {}),
    });
  }
  return { tools, skipped };
}

/** The longest tool name MCP allows; a longer one would be quoted whole in every error about the tool. */
const maxToolNameLength = 128;

/** Why a listed name cannot be registered, or null. The reason names the server and shows the name with its invisible characters escaped. */
function refuseName(server: string, toolName: string, normalizedTaken: ReadonlyMap<string, string>): string | null {
  if (toolName.length > maxToolNameLength) {
    return `MCP server "${server}" lists tool "${printableToolName(toolName)}", whose name is ${toolName.length} characters long; MCP allows at most ${maxToolNameLength}, so the tool is refused`;
  }
  const unsafe = unsafeToolNameCharacter(toolName);
  if (unsafe !== null) {
    return `MCP server "${server}" lists tool "${printableToolName(toolName)}", whose name holds the invisible or non-printing character ${unsafe.codePoint} at position ${unsafe.index}; such a name could pass for another tool's, so the tool is refused (the server's other tools still load)`;
  }
  const earlier = normalizedTaken.get(normalizeToolName(toolName));
  if (earlier !== undefined) {
    return `MCP server "${server}" lists tool "${printableToolName(toolName)}", whose name is the same as its tool "${printableToolName(earlier)}" once case, separators and full-width forms are ignored; rules could not tell them apart, so the later one is refused`;
  }
  return null;
}

/**
 * A description is text a third party wrote straight into the model's tool list, so it is labelled with the server it
 * came from (the configured name, not one the server chose), stripped of control characters and capped in length.
 */
function describe(config: ResolvedMcpServerConfig, tool: Tool): string {
  const label = `[from MCP server "${config.name}"]`;
  // eslint-disable-next-line no-control-regex
  const text = (tool.description ?? tool.title ?? tool.annotations?.title ?? '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ' ').trim();
  const capped = text.length > config.maxDescriptionChars ? `${text.slice(0, config.maxDescriptionChars)}…` : text;
  return capped === '' ? label : `${label} ${capped}`;
}

/** The server's schema as providers get it: a copy, without `$schema`, which local tools omit too and some providers reject. */
function providerSchema(schema: Tool['inputSchema']): Readonly<Record<string, unknown>> {
  const copy = structuredClone(schema) as Record<string, unknown>;
  delete copy.$schema;
  return copy;
}

function nameOf(entry: unknown): string {
  const name = typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? printableToolName(name) : '(unnamed)';
}
