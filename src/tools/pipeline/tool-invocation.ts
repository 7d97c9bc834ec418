import type { AgentRedactionPolicy } from '../../security/redaction-policy.ts';
import type { ToolDecision } from '../../spec/events.ts';
import type { InformationFlowContext } from '../../security/provenance/flow-context.ts';
import type { KeelError } from '../../errors/index.ts';
import type { ToolContext, ToolDefinition } from '../define-tool.ts';
import type { UntrustedReader } from '../../security/quarantine/index.ts';

/** Who is calling: an agent and the scopes it was granted. No agent grants itself a scope. */
export interface CallingAgent {
  readonly name: string;
  readonly scopes: readonly string[];
  /** Personal data the agent's task needs to see in tool output, beside each tool's own policy. */
  readonly redaction?: AgentRedactionPolicy | null;
}

/** One tool call as it moves through the executor's stages. */
export interface ToolInvocation {
  readonly sessionId: string;
  readonly turn: number;
  readonly callId: string;
  readonly idempotencyKey: string;
  readonly agent: CallingAgent;
  readonly tool: ToolDefinition;
  /** The validated input (after an approver's edit, when there was one). */
  readonly input: unknown;
  readonly signal: AbortSignal;
  /** Where the session's context came from, for the information-flow stage; absent when the caller tracks none. */
  readonly flow?: InformationFlowContext;
}

export interface DecisionOutcome {
  readonly decision: ToolDecision;
  /** Which rule decided, for example `schema`, `scope:orders:write`, `risk:irreversible`, `rate-limit:agent-tool`. */
  readonly rule: string;
  /** Why, in words the model (on deny) or the approver (on ask) can act on. */
  readonly reason: string;
}

export interface ApprovalRecord {
  readonly approver: string;
  readonly edited: boolean;
}

/** What the execute stages see besides the invocation: the decision that let the call through and who approved it. */
export interface ExecutionInvocation extends ToolInvocation {
  /** The session's quarantined reader, handed to the tool as `context.readUntrusted`. */
  readonly reader?: UntrustedReader;
  /** The session's side-call sampler, handed to the tool as `context.sample`. */
  readonly sampler?: ToolContext['sample'];
  readonly decision: DecisionOutcome;
  readonly approval: ApprovalRecord | null;
}

export type ExecutionOutcome =
  | { readonly ok: true; readonly output: string; readonly latencyMs: number; /** Set when the sanitizer kept the full output aside. */ readonly fullOutputBlob?: string }
  | { readonly ok: false; readonly error: KeelError; readonly latencyMs: number };

/** A stage of the decide phase: validate → authorize → rate-limit → approve. Each may answer without calling `next`. */
export type DecideStage = (invocation: ToolInvocation, next: () => Promise<DecisionOutcome>) => Promise<DecisionOutcome>;

/** A stage of the execute phase: idempotency → execute in a sandbox with a timeout → sanitize → audit. */
export type ExecuteStage = (invocation: ExecutionInvocation, next: () => Promise<ExecutionOutcome>) => Promise<ExecutionOutcome>;
