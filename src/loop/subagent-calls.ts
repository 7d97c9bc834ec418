import { KeelError, keelCodes } from '../errors/index.ts';
import type { KeelCode } from '../errors/index.ts';
import type { ToolDefinition } from '../tools/index.ts';
import type { Message } from '../spec/message.ts';
import { childEndBody, childSessionId, delegatedScopes } from './child-sessions.ts';
import type { LoopContext } from './loop-context.ts';
import type { PendingApproval, SessionResult } from './loop-types.ts';
import type { SessionState, ToolCallState } from './session-state.ts';
import { subagentOf } from './subagent-tool.ts';
import type { SubagentSpec } from './subagent-tool.ts';

/** The error a subagent call ends with while its child waits for a person: the call stays open, and so does the parent. */
export const childAwaitingApprovalMarker = 'childAwaitingApproval';

/** The child's calls waiting for a person, when a subagent call's outcome is that its child is suspended. */
export function suspendedChildApprovals(error: KeelError): readonly PendingApproval[] | null {
  return error.details[childAwaitingApprovalMarker] === true ? ((error.details.pendingApprovals as readonly PendingApproval[] | undefined) ?? []) : null;
}

/**
 * The tool a call actually executes: for a subagent tool, one whose `execute` runs the child session. The
 * `child-start` is journaled first (once; a resumed call finds it), and the `child-end` as soon as the child's outcome
 * is known, before the call's own result: a crash between the two re-runs the call, which finds the child ended and
 * returns its outcome without running it again.
 */
export async function bindSubagentCall(context: LoopContext, call: ToolCallState, tool: ToolDefinition, input: unknown): Promise<ToolDefinition> {
  const spec = subagentOf(tool);
  if (spec === null) return tool;
  const { writer, dependencies, agent } = context;
  const state = writer.state;
  const callId = call.request.callId;
  const id = childSessionId(state.sessionId, callId);
  const runner = dependencies.children;
  if (runner === undefined) {
    const error = new KeelError('invalid-config', `Tool "${tool.name}" runs agent "${spec.agent.name}" as a child session, which needs the runtime's child runner: run the parent with createKeel().run(...).`);
    return { ...tool, execute: () => Promise.reject(error) };
  }
  // The child ended and its end is journaled (the process stopped before this call's result): its outcome is reused
  // as recorded, without resuming the child, whose spending this session's fold already counts.
  const recorded = state.children.get(callId)?.end ?? null;
  if (recorded !== null) {
    const result: SessionResult = { sessionId: id, status: recorded.status, pendingApprovals: [], output: recorded.output, error: recorded.error, turns: 0, usage: recorded.usage, costUsd: recorded.costUsd };
    return { ...tool, execute: async () => outputOf(spec, result, id) };
  }
  let task: string;
  try {
    task = spec.mode === 'handoff' ? handoffTask(state, input) : spec.task(input);
    // Refused at delegation, before the child-start: wider scopes, or a slice larger than this session's budget.
    delegatedScopes(spec.agent, agent.scopes, state.sessionId);
    context.options.treeBudget?.child(id, spec.slice);
  } catch (error) {
    return { ...tool, execute: () => Promise.reject(error) };
  }
  if (!state.children.has(callId)) {
    await writer.append([{ type: 'child-start', turn: state.turn, callId, childSessionId: id, agent: spec.agent.name, mode: spec.mode, ...(spec.slice === null ? {} : { budget: spec.slice }) }]);
  }
  const execute = async (_input: unknown, toolContext: { readonly signal: AbortSignal }): Promise<string> => {
    const run = runner.run({
      agent: spec.agent,
      parentSessionId: state.sessionId,
      callId,
      task,
      mode: spec.mode,
      heldScopes: agent.scopes,
      deadlineAt: state.start.limits.deadlineAt,
      budget: context.options.treeBudget ?? null,
      slice: spec.slice,
      ...(spec.timeMs === null ? {} : { timeMs: spec.timeMs }),
      signal: toolContext.signal,
      ...(state.start.agent.module === undefined ? {} : { agentModule: state.start.agent.module }),
    });
    const result = await run.result;
    if (result.status !== 'awaiting-approval' && writer.state.children.get(callId)?.end == null) {
      await writer.append([childEndBody({ callId, turn: call.request.turn, childSessionId: id }, result)]);
    }
    return outputOf(spec, result, id);
  };
  return { ...tool, execute };
}

/** The child's answer as the parent's call result, or the error the call ends with. */
function outputOf(spec: SubagentSpec, result: SessionResult, id: string): string {
  const name = spec.agent.name;
  if (result.status === 'awaiting-approval') {
    const calls = result.pendingApprovals.map((pending) => `${pending.tool} (call ${pending.callId})`).join(', ');
    throw new KeelError('cancelled', `Subagent "${name}" (session ${id}) waits for a person's approval of ${calls}: approve or reject it in the session that asks, then resume this session.`, {
      details: { [childAwaitingApprovalMarker]: true, childSessionId: id, pendingApprovals: result.pendingApprovals.map((pending) => ({ ...pending, sessionId: pending.sessionId ?? id, agent: pending.agent ?? name })) },
    });
  }
  if (result.status !== 'completed') {
    const code: KeelCode = result.error !== null && result.error.code in keelCodes ? (result.error.code as KeelCode) : 'tool-failed';
    throw new KeelError(code, `Subagent "${name}" (session ${id}) ${result.status}${result.error === null ? '' : `: ${result.error.message}`}`, { details: { childSessionId: id } });
  }
  const output = result.output ?? '';
  if (spec.output === null) return output;
  const parsed = spec.output.safeParse(jsonOf(output));
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(output)'}: ${issue.message}`).join('; ');
    throw new KeelError('tool-output-rejected', `Subagent "${name}" (session ${id}) answered, but not with the JSON its tool declares: ${issues}.`, { details: { childSessionId: id } });
  }
  return JSON.stringify(parsed.data);
}

/** JSON in a child's answer: the whole text, or the body of its first fenced block. Unparseable text stays text. */
function jsonOf(text: string): unknown {
  const trimmed = text.trim();
  const fence = /```(?:json)?\n([\s\S]*?)\n```/.exec(trimmed.length > 1_000_000 ? '' : trimmed);
  for (const candidate of [trimmed, fence?.[1]]) {
    if (candidate === undefined) continue;
    try {
      return JSON.parse(candidate) as unknown;
    } catch {
      // Not JSON: the next candidate, else the text itself (which the schema then refuses with its own message).
    }
  }
  return text;
}

/** Text of the conversation a handoff transfers: the user's and the agents' words, newest kept when it is long. */
const handoffTranscriptChars = 50_000;

export function handoffTask(state: SessionState, input: unknown): string {
  const reason = (input as { reason?: unknown }).reason;
  const lines = state.messages.flatMap((message: Message) => {
    const text = message.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n').trim();
    return text === '' ? [] : [`${message.role === 'user' ? 'User' : 'Agent'}: ${text}`];
  });
  const response = state.response?.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n').trim() ?? '';
  if (response !== '') lines.push(`Agent: ${response}`);
  let transcript = lines.join('\n\n');
  if (transcript.length > handoffTranscriptChars) transcript = `[earlier conversation omitted]\n${transcript.slice(-handoffTranscriptChars)}`;
  return `You take over this conversation from agent "${state.start.agent.name}". Answer the user from here on.\n\nConversation so far:\n${transcript}\n\nHanded over because: ${typeof reason === 'string' ? reason : 'not given'}`;
}
