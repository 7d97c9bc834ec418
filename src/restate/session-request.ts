import type * as restate from '@restatedev/restate-sdk';
import { z } from 'zod';
import { KeelError, isKeelError } from '../errors/index.ts';
import type { RestateApproval, RestateSessionRequest } from './session-object.ts';

/** The longest task a `run` body may carry, as the run queue allows. */
export const maxRestateTaskChars = 1 << 20;

const sessionRequestSchema = z
  .object({
    agent: z.string().min(1).max(256),
    task: z.string().max(maxRestateTaskChars).optional(),
    model: z.string().min(1).max(1_024).optional(),
  })
  .loose();

const approvalSchema = z
  .object({
    callId: z.string().min(1).max(256),
    approved: z.boolean(),
    approver: z.string().trim().min(1).max(256),
    reason: z.string().max(8_000).optional(),
    editedInput: z.unknown().optional(),
  })
  .loose();

/**
 * The body of `run`, checked before anything reads it: a body that is missing, not an object, or has fields of the
 * wrong type is refused as `invalid-argument` (terminal), never a TypeError that Restate would retry forever.
 */
export function parseSessionRequest(body: unknown, sessionId: string): RestateSessionRequest {
  const parsed = sessionRequestSchema.safeParse(body);
  if (parsed.success) {
    const { agent, task, model } = parsed.data;
    return { agent, ...(task === undefined ? {} : { task }), ...(model === undefined ? {} : { model }) };
  }
  throw new KeelError('invalid-argument', `The run request for session ${sessionId} is invalid (${problemsOf(parsed.error, body)}); send a JSON object {"agent": "<name>", "task": "<text>", "model"?: "<model>"}.`, {
    details: { issues: parsed.error.issues.slice(0, 10).map((issue) => ({ path: issue.path.join('.'), message: issue.message })) },
  });
}

/** The body of `approve`, checked the same way: a decision on one call, with who decided. */
export function parseApproval(body: unknown, sessionId: string): RestateApproval {
  const parsed = approvalSchema.safeParse(body);
  if (parsed.success) {
    const { callId, approved, approver, reason, editedInput } = parsed.data;
    return { callId, approved, approver, ...(reason === undefined ? {} : { reason }), ...(editedInput === undefined ? {} : { editedInput }) };
  }
  throw new KeelError('invalid-argument', `The approval for session ${sessionId} is invalid (${problemsOf(parsed.error, body)}); send a JSON object {"callId": "<id>", "approved": true|false, "approver": "<who>", "reason"?: "<why>", "editedInput"?: {…}}.`, {
    details: { issues: parsed.error.issues.slice(0, 10).map((issue) => ({ path: issue.path.join('.'), message: issue.message })) },
  });
}

function problemsOf(error: z.ZodError, body: unknown): string {
  if (body === undefined || body === null) return 'the body is empty';
  if (typeof body !== 'object' || Array.isArray(body)) return `the body is ${Array.isArray(body) ? 'an array' : `a ${typeof body}`}, not an object`;
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length === 0 ? 'body' : issue.path.join('.')}: ${issue.message}`)
    .join('; ');
}

/**
 * What a handler throws to Restate. Restate retries an invocation that throws anything but a TerminalError; a Keel
 * error no retry can fix (a bad request, a spent budget, a corrupt journal) fails it for good instead, with its
 * code and message, and a 400 when the caller is at fault.
 */
export function asRestateError(sdk: Pick<typeof restate, 'TerminalError'>, error: unknown): unknown {
  if (error instanceof sdk.TerminalError) return error;
  if (isKeelError(error) && !error.retryable) return new sdk.TerminalError(`${error.code}: ${error.message}`, { errorCode: error.code === 'invalid-argument' ? 400 : 500 });
  return error;
}
