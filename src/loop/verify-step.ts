import { KeelError, toKeelError } from '../errors/index.ts';
import { readVerifierAnswer, verifierRequest, verifierUnavailable } from '../security/verifier/index.ts';
import type { VerifierProposal, VerifierVerdict } from '../security/verifier/index.ts';
import { answerText } from '../security/model-json.ts';
import type { EventBody, ToolDecision } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { Usage } from '../spec/usage.ts';
import type { ToolDefinition } from '../tools/define-tool.ts';
import { endBody } from './loop-context.ts';
import type { LoopContext } from './loop-context.ts';
import { sideCallCost, sideModelCaller } from './side-model.ts';
import { verifies } from './verifier-options.ts';
import type { ResolvedVerifier } from './verifier-options.ts';

/** The pipeline's verdict on a call, as `decideTools` journals it. */
export interface CallVerdict {
  readonly decision: ToolDecision;
  readonly rule: string;
  readonly reason: string;
  readonly error: KeelError | null;
}

/** The rule named in a `tool-decision` the verifier decided. */
export const verifierRule = 'verifier';

/**
 * Layer 4: when the agent has a verifier and the pipeline allowed a call it checks, a second model judges the call
 * against the task. Its `verifier-decision` is journaled before the `tool-decision`; an `ask` or `deny` replaces the
 * pipeline's `allow`. Calls the pipeline already refused or escalated are not sent (a person or the policy decides them).
 */
export async function verifyCall(context: LoopContext, use: ToolUseBlock, tool: ToolDefinition | undefined, verdict: CallVerdict): Promise<{ events: EventBody[]; verdict: CallVerdict }> {
  const verifier = context.agent.verifier;
  if (verifier === undefined || verdict.decision !== 'allow' || tool === undefined || !verifies(verifier, tool)) return { events: [], verdict };
  const proposal: VerifierProposal = { kind: 'tool-call', tool: tool.name, description: tool.description, risk: tool.risk, input: use.input };
  const { event, checked } = await askVerifier(context, verifier, proposal, { callId: use.id, tool: use.name });
  return { events: [event], verdict: combined(verdict, checked) };
}

/**
 * The final answer, checked when the agent's verifier has `finalAnswer` on: the events that end the session. An
 * allowed answer completes it; a denied or escalated one is withheld (`answer-withheld`), since no person is asked
 * about answers. The effects already made stand: each call was decided on its own.
 */
export async function verifiedEnd(context: LoopContext, output: string): Promise<EventBody[]> {
  const verifier = context.agent.verifier;
  const state = context.writer.state;
  if (verifier === undefined || !verifier.finalAnswer) return [endBody(state, 'completed', output, null)];
  const { event, checked } = await askVerifier(context, verifier, { kind: 'final-answer', answer: output }, {});
  const after = context.writer.preview([event]);
  if (checked.decision === 'allow') return [event, endBody(after, 'completed', output, null)];
  const error = new KeelError('answer-withheld', `The verifier withheld the final answer as inconsistent with the user's task (${checked.decision}): ${checked.reason} The answer is kept in the journal for a person to read.`, {
    details: { decision: checked.decision },
  });
  return [event, endBody(after, 'failed', null, error)];
}

async function askVerifier(context: LoopContext, verifier: ResolvedVerifier, proposal: VerifierProposal, about: { callId?: string; tool?: string }): Promise<{ event: EventBody; checked: VerifierVerdict }> {
  const { agent, dependencies, writer, signal } = context;
  const state = writer.state;
  const request = verifierRequest(
    {
      instructions: agent.instructions,
      task: state.start.input,
      proposal,
      earlierCalls: state.completedCalls.map((call) => ({ tool: call.tool, input: call.input })),
      ...(verifier.guidance === null ? {} : { guidance: verifier.guidance }),
    },
    verifier.maxOutputTokens,
  );
  const caller = sideModelCaller(context, verifier.model, 'verifier');
  const started = dependencies.clock.monotonic();
  let checked: VerifierVerdict;
  let usage: Usage | null = null;
  let model = caller.modelId;
  try {
    const { response } = await caller.call(request, { signal, streaming: false });
    usage = response.usage;
    model = response.model;
    checked = readVerifierAnswer(answerText(response.content), verifier.onFailure);
  } catch (thrown) {
    const error = toKeelError(thrown);
    // A cancelled session is not a verifier failure: the loop ends the session as cancelled.
    if (signal.aborted || error.code === 'cancelled') throw error;
    checked = verifierUnavailable(`${error.code}: ${error.message}`, verifier.onFailure);
  }
  const event: EventBody = {
    type: 'verifier-decision',
    turn: state.turn,
    subject: proposal.kind,
    ...about,
    decision: checked.decision,
    reason: checked.reason,
    ...(checked.failure === undefined ? {} : { failure: checked.failure }),
    model,
    usage,
    costUsd: usage === null ? null : sideCallCost(context, caller, usage, model),
    latencyMs: Math.round(dependencies.clock.monotonic() - started),
  };
  return { event, checked };
}

function combined(verdict: CallVerdict, checked: VerifierVerdict): CallVerdict {
  if (checked.decision === 'allow') return verdict;
  if (checked.decision === 'ask') return { decision: 'ask', rule: verifierRule, reason: `The verifier asks a person to decide: ${checked.reason}`, error: null };
  const reason = `The verifier refused this call as inconsistent with the user's task: ${checked.reason}`;
  return { decision: 'deny', rule: verifierRule, reason, error: new KeelError('tool-denied', reason, { details: { rule: verifierRule } }) };
}
