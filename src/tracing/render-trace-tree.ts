import type { TraceTree, TraceTurn } from './trace-tree.ts';
import { attemptLines, routingSuffix } from './trace-routing.ts';
import { renderWorkflowTrace } from './workflow-trace.ts';
import { renderPlanTrace } from './plan-trace.ts';

const integer = new Intl.NumberFormat('en-US');

function milliseconds(value: number | null): string {
  if (value === null) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}

function dollars(value: number | null): string {
  return value === null ? 'cost unknown (model not in the pricing table)' : `$${value.toFixed(4)}`;
}

/**
 * A trace tree as text for a terminal (what `keel trace` prints).
 * @example
 * ```ts
 * console.log(renderTraceTree(buildTraceTree(await keel.events(sessionId))));
 * ```
 */
export function renderTraceTree(tree: TraceTree): string {
  const lines: string[] = [];
  lines.push(`Trace: session ${tree.sessionId}  agent=${tree.agent}  model=${tree.model}  status=${tree.status}`);
  tree.turns.forEach((turn, index) => {
    const lastTurn = index === tree.turns.length - 1 && tree.guardTrips.length === 0;
    lines.push(`${lastTurn ? '└──' : '├──'} turn ${turn.turn}`);
    renderTurn(turn, lastTurn ? '    ' : '│   ', lines, tree.children);
  });
  if (tree.workflow !== undefined) lines.push(...renderWorkflowTrace(tree.workflow));
  if (tree.plan !== undefined) lines.push(...renderPlanTrace(tree.plan));
  // Child sessions not started by a tool call of a turn (a workflow's agent steps) are listed after the turns.
  const attached = new Set(tree.turns.flatMap((turn) => turn.tools.map((tool) => `${turn.turn}:${tool.callId}`)));
  const unattached = tree.children.filter((child) => !attached.has(`${child.turn}:${child.callId}`));
  unattached.forEach((child, index) => {
    const last = index === unattached.length - 1 && tree.guardTrips.length === 0;
    lines.push(`${last ? '└──' : '├──'} child session ${child.childSessionId}  agent=${child.agent}  ${child.mode} ${child.callId}  ${child.status}  (keel trace ${child.childSessionId})`);
  });
  tree.guardTrips.forEach((trip, index) => {
    const last = index === tree.guardTrips.length - 1;
    lines.push(`${last ? '└──' : '├──'} guard-trip ${trip.guard} (limit=${integer.format(trip.limit)}, actual=${integer.format(trip.actual)}): ${trip.message}`);
  });
  const totals = tree.totals;
  lines.push('');
  lines.push(
    `Totals: turns=${totals.turns}  tokens in=${integer.format(totals.inputTokens)} out=${integer.format(totals.outputTokens)}` +
      (totals.cacheReadTokens + totals.cacheWriteTokens > 0 ? ` cache read=${integer.format(totals.cacheReadTokens)} write=${integer.format(totals.cacheWriteTokens)}` : '') +
      `  cost=${dollars(totals.costUsd)}` +
      (totals.cacheSavingsUsd !== 0 ? `  prompt cache ${totals.cacheSavingsUsd > 0 ? 'saved' : 'cost'} $${Math.abs(totals.cacheSavingsUsd).toFixed(6)}` : '') +
      `  model latency=${milliseconds(totals.modelLatencyMs)}  tool calls=${totals.toolCalls} errors=${totals.toolErrors}  context peak≈${integer.format(totals.contextPeakTokens)} tokens  duration=${milliseconds(tree.durationMs)}`,
  );
  const spentByChildren = totals.children;
  if (spentByChildren.sessions > 0) {
    lines.push(`Child sessions: ${spentByChildren.sessions}  tokens in=${integer.format(spentByChildren.inputTokens)} out=${integer.format(spentByChildren.outputTokens)}  cost=${dollars(spentByChildren.costUsd)}  (spent by them, besides the totals above)`);
  }
  if (tree.error !== null) lines.push(`Error: ${tree.error.code}: ${tree.error.message}`);
  return lines.join('\n');
}

function renderTurn(turn: TraceTurn, indent: string, lines: string[], childSessions: TraceTree['children'] = []): void {
  const children: string[] = [];
  if (turn.context !== null) {
    const marker = turn.context.tokenCounting === 'estimate' ? '≈' : '=';
    children.push(`context assembly  messages=${turn.context.messageCount} tokens${marker}${integer.format(turn.context.tokens)}  ${milliseconds(turn.context.durationMs)}`);
  }
  for (const call of turn.modelCalls) {
    if (call.role !== undefined) {
      children.push(sideCallLine(call));
      continue;
    }
    if (call.error !== null) {
      children.push(`model call  ${call.provider}:${call.model}  FAILED ${call.error.code} after ${call.retries} retries  ${milliseconds(call.latencyMs)}: ${call.error.message}`);
    } else {
      children.push(
        `model call  ${call.provider}:${call.model}  in=${integer.format(call.usage?.inputTokens ?? 0)} out=${integer.format(call.usage?.outputTokens ?? 0)}  latency=${milliseconds(call.latencyMs)}  stop=${call.stopReason}` +
          (call.retries > 0 ? `  retries=${call.retries}` : '') +
          (call.streaming ? '  streamed' : '') +
          routingSuffix(call.routing),
      );
    }
    for (const line of attemptLines(call.routing)) children.push(`  ${line}`);
  }
  for (const tool of turn.tools) {
    const outcome =
      tool.status === 'ok' ? `ok (${integer.format(tool.outputLength ?? 0)} chars)` : tool.status === 'error' ? `ERROR ${tool.error?.code}: ${tool.error?.message}` : 'no outcome recorded';
    children.push(`tool ${tool.tool}  ${tool.callId}  ${milliseconds(tool.latencyMs)}  ${outcome}`);
    const child = childSessions.find((session) => session.callId === tool.callId && session.turn === turn.turn);
    if (child !== undefined) {
      const spent = child.usage === null ? '' : `  tokens in=${integer.format(child.usage.inputTokens + child.usage.cacheReadTokens + child.usage.cacheWriteTokens)} out=${integer.format(child.usage.outputTokens)}`;
      children.push(`  ${child.mode === 'handoff' ? 'handed over to' : 'child session'} ${child.childSessionId}  agent=${child.agent}  ${child.status}${spent}  (keel trace ${child.childSessionId})`);
    }
    if (tool.decision !== undefined) children.push(`  ${tool.decision.decision === 'ask' ? 'escalated to a person' : 'denied'} by ${tool.decision.rule}: ${tool.decision.reason}`);
    for (const found of tool.injections ?? []) {
      children.push(`  possible prompt injection in the result (${found.rules.join(', ')}; score ${found.score.toFixed(2)}): ${found.action}${found.taints ? '' : ', below the taint score'}${found.originalBlob === undefined ? '' : `, original kept as blob ${found.originalBlob}`}`);
    }
  }
  children.forEach((child, index) => lines.push(`${indent}${index === children.length - 1 ? '└──' : '├──'} ${child}`));
}

/** A verifier's decision or a quarantined read: what it was about, what it decided and why. */
function sideCallLine(call: TraceTurn['modelCalls'][number]): string {
  const verdict = call.verdict;
  const about = verdict?.callId === null || verdict === undefined ? '' : ` on ${verdict.tool ?? 'call'} ${verdict.callId}`;
  const figures = call.usage === null ? '' : `  in=${integer.format(call.usage.inputTokens)} out=${integer.format(call.usage.outputTokens)}`;
  const label = call.role === 'verifier' ? 'verifier' : 'quarantined read';
  return `${label}${about}  ${call.model}${figures}  ${milliseconds(call.latencyMs)}  ${verdict?.outcome ?? ''}: ${verdict?.reason ?? ''}`;
}
