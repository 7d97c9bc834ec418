/**
 * The JSON the console reads from Keel's HTTP API (`/v1`). The journal events are the runtime's own type; the
 * other shapes are the API's responses as the console uses them.
 */
export type { SessionEvent } from '../../../src/spec/events.ts';

// The API's own response types, inferred from the zod schemas the server validates with.
export type { AgentInfo, Me, SessionList, SessionView } from '../../../src/server/api-schemas.ts';
import type { SessionView } from '../../../src/server/api-schemas.ts';

export type SessionStatus = SessionView['status'];
export const sessionStatuses: readonly SessionStatus[] = ['queued', 'running', 'waiting-approval', 'interrupted', 'completed', 'failed', 'cancelled'];
export type PendingApproval = SessionView['pendingApprovals'][number];

export type Segment = string;

export interface ExplainItem {
  readonly id: string;
  readonly segment: Segment;
  readonly kind: string;
  readonly range?: readonly [number, number];
  readonly turn?: number;
  readonly level?: number;
  readonly tokensBefore: number;
  readonly tokens: number;
  readonly decision: string;
  readonly rule: string;
  readonly detail?: string;
}

export interface ExplainPlan {
  readonly model: string;
  readonly turn: number;
  readonly window: number;
  readonly reservedOutput: number;
  readonly total: number;
  readonly utilization: number;
  readonly warning: boolean;
  readonly compaction: boolean;
  readonly tokenCounting: string;
  readonly encoding: string;
  readonly segments: readonly { readonly segment: Segment; readonly budget: number; readonly tokens: number; readonly items: readonly ExplainItem[] }[];
}

export interface ContentBlockView {
  readonly type: string;
  readonly text?: string;
  readonly thinking?: string;
  readonly name?: string;
  readonly id?: string;
  readonly input?: unknown;
  readonly toolUseId?: string;
  readonly content?: string;
  readonly isError?: boolean;
}

export interface MessageView {
  readonly role: string;
  readonly content: readonly ContentBlockView[];
}

export interface ModelRequestView {
  readonly system?: string;
  readonly messages: readonly MessageView[];
  readonly tools: readonly { readonly name: string; readonly description: string; readonly inputSchema: unknown }[];
  readonly maxOutputTokens: number;
  readonly temperature?: number;
}

export interface TurnReplay {
  readonly sessionId: string;
  readonly turn: number;
  readonly seq: number;
  readonly attempts: number;
  readonly requestHash: string;
  readonly verified: boolean;
  readonly provider: string;
  readonly model: string;
  readonly request: ModelRequestView;
  /** The journaled answer to this request; null when the session stopped before it arrived. */
  readonly response?: { readonly content: readonly ContentBlockView[]; readonly stopReason: string; readonly model: string; readonly costUsd: number | null; readonly latencyMs: number } | null;
}

export interface ReplaySummary {
  readonly turns: readonly { readonly turn: number; readonly requestHash: string; readonly verified: boolean; readonly status: string; readonly messages?: number; readonly tools?: number; readonly characters?: number; readonly error?: { readonly code: string; readonly message: string } }[];
}

export interface CounterfactualBody {
  readonly model?: string;
  readonly system?: string;
  readonly strategy?: string;
}

export interface CounterfactualView {
  readonly changes: readonly string[];
  readonly differences: readonly string[];
  readonly provider?: string;
  readonly costUsd?: number | null;
  readonly latencyMs?: number;
  readonly counterfactual?: { readonly content: readonly ContentBlockView[]; readonly stopReason: string; readonly model: string };
  readonly original?: { readonly content: readonly ContentBlockView[]; readonly stopReason: string; readonly model: string } | null;
}

export interface DiffLine {
  readonly op: ' ' | '-' | '+';
  readonly text: string;
}

export interface DiffSegment {
  readonly kind: string;
  readonly key: string;
  readonly title: string;
  readonly status: 'same' | 'changed' | 'only-a' | 'only-b';
  readonly notes: readonly string[];
  /** The API sends changed lines as `+text` / `-text`; the library's own diff as objects. Both are accepted. */
  readonly lines: readonly (string | DiffLine)[];
}

export interface ContextDiffView {
  readonly identical: boolean;
  readonly counts: { readonly same: number; readonly changed: number; readonly onlyA: number; readonly onlyB: number };
  readonly segments: readonly DiffSegment[];
  readonly a?: unknown;
  readonly b?: unknown;
}

export type { AuditRecord } from '../../../src/spec/audit-log.ts';
import type { AuditRecord } from '../../../src/spec/audit-log.ts';

/** The chain's check: `ok` with how much was checked, or the first bad record and what is wrong with it. */
export interface AuditVerificationView {
  readonly ok: boolean;
  readonly checked?: number;
  readonly records?: number;
  readonly firstBadSeq?: number;
  readonly problem?: string;
  readonly findings?: readonly unknown[];
}

export interface AuditView {
  readonly entries: readonly AuditRecord[];
  readonly verification: AuditVerificationView;
}
