import { ProvenanceIndex } from '../security/provenance/index.ts';
import type { InformationFlowContext, TaintSource } from '../security/provenance/index.ts';
import type { UntrustedProvenance } from '../spec/provenance.ts';
import type { InjectionDetectEvent } from '../spec/events.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { SessionState } from './session-state.ts';

/** What the loop has indexed of one session so far: the conversation grows only at its end, so indexing is incremental. */
interface Tracker {
  readonly index: ProvenanceIndex;
  readonly toolNames: Map<string, string>;
  readonly labels: Map<string, UntrustedProvenance>;
  messages: number;
  calls: number;
}

/** One tracker per run of the loop (keyed by the state's start event, which a run keeps); a resume builds a new one from the journal. */
const trackers = new WeakMap<object, Tracker>();

/**
 * The information-flow context of the session's next decision: an index of every message the model has read, by
 * where it came from (the instructions as `system`, the user's words as `user`, each tool result with its journaled
 * provenance), and the taint of the injection detections journaled so far. Built only from the journal's state, in
 * journal order, so a resumed session decides as the original would have.
 */
export function flowContextFor(agent: AgentDefinition, state: SessionState): InformationFlowContext | undefined {
  const policy = agent.injection;
  if (!policy.informationFlow) return undefined;
  let tracker = trackers.get(state.start);
  if (tracker === undefined) {
    tracker = { index: new ProvenanceIndex(), toolNames: new Map(), labels: new Map(), messages: 0, calls: 0 };
    tracker.index.add({ id: 'system', provenance: 'system', text: agent.instructions, description: "the agent's instructions" });
    trackers.set(state.start, tracker);
  }
  const indexed = tracker;
  let taint: readonly TaintSource[] | undefined;
  // Indexed when a stage reads it: only calls that write or send data out are traced, and most calls only read.
  return {
    get index(): ProvenanceIndex {
      catchUp(indexed, agent, state);
      return indexed.index;
    },
    get taint(): readonly TaintSource[] {
      taint ??= taintOf(state.injections);
      return taint;
    },
    escalate: policy.escalate,
  };
}

function catchUp(tracker: Tracker, agent: AgentDefinition, state: SessionState): void {
  for (; tracker.calls < state.completedCalls.length; tracker.calls += 1) {
    const call = state.completedCalls[tracker.calls];
    if (call !== undefined) tracker.labels.set(call.callId, call.provenance);
  }
  for (; tracker.messages < state.messages.length; tracker.messages += 1) {
    const message = state.messages[tracker.messages];
    if (message === undefined) continue;
    for (const block of message.content) {
      if (block.type === 'tool_use') tracker.toolNames.set(block.id, block.name);
      else if (block.type === 'text' && message.role === 'user') {
        tracker.index.add({ id: `user:${tracker.messages}`, provenance: 'user', text: block.text, description: tracker.messages === 0 ? "the user's task" : `the user's message ${tracker.messages}` });
      } else if (block.type === 'tool_result') {
        const tool = tracker.toolNames.get(block.toolUseId) ?? 'unknown';
        const provenance = tracker.labels.get(block.toolUseId) ?? 'tool';
        const secret = agent.tools.get(tool)?.secret === true;
        tracker.index.add({
          id: `call:${block.toolUseId}`,
          provenance,
          text: block.content,
          description: `the ${block.isError ? 'error' : 'result'} of ${tool} (call ${block.toolUseId})`,
          ...(secret ? { secret: true } : {}),
        });
      }
    }
  }
}

/** One taint source per item, the first journaled: an item scanned again (its call re-run) does not count twice. */
function taintOf(events: readonly InjectionDetectEvent[]): TaintSource[] {
  const seen = new Set<string>();
  const sources: TaintSource[] = [];
  for (const event of events) {
    if (seen.has(event.item) || event.taints === false) continue;
    seen.add(event.item);
    const first = event.findings[0];
    sources.push({
      item: event.item,
      ...(event.tool === undefined ? {} : { tool: event.tool }),
      provenance: event.provenance,
      rule: first === undefined ? 'detector' : `${first.layer}:${first.rule}`,
      score: event.score,
    });
  }
  return sources;
}
