import { boundText } from '../../util/index.ts';
import type { InformationFlowContext, ItemReference, LeakTrace, ValueTrace } from '../../security/provenance/index.ts';
import type { UntrustedProvenance } from '../../spec/provenance.ts';
import type { ToolDefinition } from '../define-tool.ts';
import type { DecideStage, DecisionOutcome, ToolInvocation } from '../pipeline/tool-invocation.ts';

const strictness = { allow: 0, ask: 1, deny: 2 } as const;

/** Rules this stage decides by, as they appear in `tool-decision` events and `keel pending`. */
export const flowRules = {
  untrustedArgument: 'flow:untrusted-argument',
  taint: 'flow:taint',
  untraceable: 'flow:untraceable',
  outboundSystemPrompt: 'flow:outbound-system-prompt',
  outboundSecret: 'flow:outbound-secret',
} as const;

/** Leaves of one call's arguments that are looked at, and characters of each: bounds on a call the limits already let through. */
const maxSinkValues = 4_096;
const maxSinkChars = 262_144;
const quotedValueChars = 120;

/** The provenance label of a tool's output: what it declared, else `mcp` for MCP tools and `tool` for the rest. */
export function outputProvenanceOf(tool: Pick<ToolDefinition, 'provenance' | 'source'>): UntrustedProvenance {
  return tool.provenance ?? (tool.source.startsWith('mcp:') ? 'mcp' : 'tool');
}

/**
 * The information-flow stage (the executor's last line against prompt injection): whatever the model was told, a
 * `write` or `irreversible` call whose sink arguments carry a value found only in untrusted content (a tool result, an
 * MCP tool's output, a web page, a subagent's answer), or any such call after a detection tainted the session, is put
 * before a person (or denied, per the agent's policy), with the argument and the item it came from named. An outbound
 * tool may not carry text of the system prompt or of a secret tool output at all. Calls without a flow context (a
 * caller that tracks none) pass untouched; the stricter of this verdict and the later stages' wins.
 */
export function createInformationFlowStage(): DecideStage {
  return async (invocation, next) => {
    const verdict = judge(invocation);
    if (verdict === null) return next();
    if (verdict.decision === 'deny') return verdict;
    const later = await next();
    return strictness[later.decision] > strictness[verdict.decision] ? later : verdict;
  };
}

/** This stage's verdict alone, or null when it has nothing to say. Pure: the same journal gives the same verdict. */
export function judge(invocation: ToolInvocation): DecisionOutcome | null {
  const { flow, tool } = invocation;
  if (flow === undefined) return null;
  const writes = tool.risk === 'write' || tool.risk === 'irreversible';
  if (!writes && tool.outbound !== true) return null;
  const values = sinkValues(tool, invocation.input);
  if (tool.outbound === true) {
    for (const { path, value } of values) {
      const leak = flow.index.leak(value);
      if (leak !== null) return leakVerdict(tool, path, value, leak);
    }
  }
  if (!writes) return null;
  for (const { path, value } of values) {
    const trace = flow.index.trace(value);
    if (trace !== null) return traceVerdict(tool, flow, path, value, trace);
  }
  if (flow.taint.length > 0) return taintVerdict(tool, flow);
  if (flow.index.saturated && values.length > 0) {
    return {
      decision: flow.escalate,
      rule: flowRules.untraceable,
      reason: `"${tool.name}" changes something, and this session's context grew past what information-flow control indexes, so where its arguments came from cannot be vouched for. Check the arguments against the user's request before approving.`,
    };
  }
  return null;
}

function traceVerdict(tool: ToolDefinition, flow: InformationFlowContext, path: string, value: string, trace: ValueTrace): DecisionOutcome {
  const taint = flow.taint.length === 0 ? '' : ` The session is also tainted: ${taintSummary(flow)}.`;
  return {
    decision: flow.escalate,
    rule: `${flowRules.untrustedArgument}:${path}`,
    reason:
      `Argument "${path}" of "${tool.name}" (${quote(value)}) can be traced to untrusted content: ${kindName(trace.kind)} ${quote(trace.atom)} appears in ${describe(trace.source)} ` +
      `and nowhere in the instructions or the user's words.${taint} Approve only if the user wants this value used; content read from outside may be an injected instruction.`,
  };
}

function taintVerdict(tool: ToolDefinition, flow: InformationFlowContext): DecisionOutcome {
  return {
    decision: flow.escalate,
    rule: flowRules.taint,
    reason: `"${tool.name}" changes something, and a possible prompt injection entered this session's context earlier (${taintSummary(flow)}): every such call after it needs a person. Check that the call is what the user asked for.`,
  };
}

function leakVerdict(tool: ToolDefinition, path: string, value: string, leak: LeakTrace): DecisionOutcome {
  const what = leak.leak === 'secret' ? `secret output (${describe(leak.source)})` : 'the system prompt';
  return {
    decision: 'deny',
    rule: leak.leak === 'secret' ? flowRules.outboundSecret : flowRules.outboundSystemPrompt,
    reason: `Argument "${path}" of "${tool.name}" (${quote(value)}) carries text of ${what} (${kindName(leak.kind)} ${quote(leak.atom)}), and "${tool.name}" sends data out: that text may not leave. Send it without that text.`,
  };
}

function taintSummary(flow: InformationFlowContext): string {
  const first = flow.taint[0];
  if (first === undefined) return '';
  const more = flow.taint.length > 1 ? `, and ${flow.taint.length - 1} more` : '';
  return `${first.rule} with score ${first.score.toFixed(2)} in ${first.tool === undefined ? first.item : `the result of ${first.tool} (${first.item})`}, provenance ${first.provenance}${more}`;
}

function describe(source: ItemReference): string {
  return `${source.description} [${source.id}, provenance ${source.provenance}]`;
}

function kindName(kind: ValueTrace['kind']): string {
  return kind === 'text' ? 'the text' : kind === 'iban' ? 'IBAN' : kind === 'url' ? 'URL' : kind === 'id' ? 'identifier' : kind === 'email' ? 'e-mail address' : kind;
}

function quote(value: string): string {
  return JSON.stringify(boundText(value, quotedValueChars));
}

interface SinkValue {
  readonly path: string;
  readonly value: string;
}

/** The string and number leaves under the tool's sinks (every argument when it declares none), with their paths. */
export function sinkValues(tool: Pick<ToolDefinition, 'sinks'>, input: unknown): SinkValue[] {
  const roots: { path: string; value: unknown }[] =
    tool.sinks === undefined
      ? Object.entries(isRecord(input) ? input : {}).map(([key, value]) => ({ path: key, value }))
      : tool.sinks.map((sink) => ({ path: sink, value: valueAt(input, sink) }));
  const leaves: SinkValue[] = [];
  const stack = roots.reverse();
  while (stack.length > 0 && leaves.length < maxSinkValues) {
    const { path, value } = stack.pop() as { path: string; value: unknown };
    if (typeof value === 'string') leaves.push({ path, value: value.length > maxSinkChars ? value.slice(0, maxSinkChars) : value });
    else if (typeof value === 'number' && Number.isFinite(value)) leaves.push({ path, value: String(value) });
    else if (Array.isArray(value)) for (let index = value.length - 1; index >= 0; index -= 1) stack.push({ path: `${path}[${index}]`, value: value[index] });
    else if (isRecord(value)) for (const [key, child] of Object.entries(value).reverse()) stack.push({ path: `${path}.${key}`, value: child });
  }
  return leaves;
}

function valueAt(input: unknown, path: string): unknown {
  let current = input;
  for (const key of path.split('.')) {
    if (!isRecord(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
