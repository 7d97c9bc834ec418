import { z } from 'zod';
import type { ToolDecision } from '../../spec/events.ts';
import { boundText } from '../../util/index.ts';
import { firstJsonObject } from '../model-json.ts';

/** Why a verifier gave no usable decision: its answer was not one, or the call itself failed. */
export type VerifierFailure = 'malformed' | 'model-error';

export interface VerifierVerdict {
  readonly decision: ToolDecision;
  readonly reason: string;
  /** Set when the decision is the fail-closed default, not the verifier's own. */
  readonly failure?: VerifierFailure;
}

const answerSchema = z.object({
  decision: z.enum(['allow', 'ask', 'deny']),
  reason: z.string().trim().min(1).max(4_000),
});

/** Reasons kept in the journal and shown to approvers are cut here. */
const maxReasonChars = 1_000;

/**
 * Reads the verifier's answer. Anything but one well-formed decision fails closed: `onFailure` (by default `ask`, so a
 * person decides), with a reason that says what was wrong with the answer.
 */
export function readVerifierAnswer(text: string, onFailure: Exclude<ToolDecision, 'allow'>): VerifierVerdict {
  const found = firstJsonObject(text);
  if (!found.ok) return failClosed(onFailure, 'malformed', `The verifier's answer was not a decision (${found.problem}): ${boundText(JSON.stringify(text), 200)}.`);
  const parsed = answerSchema.safeParse(found.value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? 'the answer' : issue.path.join('.');
    return failClosed(onFailure, 'malformed', `The verifier's answer was not a valid decision (${where}: ${issue?.message ?? 'invalid'}); expected {"decision": "allow" | "ask" | "deny", "reason": "…"}.`);
  }
  return { decision: parsed.data.decision, reason: boundText(parsed.data.reason, maxReasonChars) };
}

/** The decision when the verifier could not be asked at all (network, quota, timeout). */
export function verifierUnavailable(message: string, onFailure: Exclude<ToolDecision, 'allow'>): VerifierVerdict {
  return failClosed(onFailure, 'model-error', `The verifier could not be asked (${boundText(message, 300)}), so the call is not allowed without it.`);
}

function failClosed(decision: Exclude<ToolDecision, 'allow'>, failure: VerifierFailure, reason: string): VerifierVerdict {
  return { decision, reason, failure };
}
