import type { Context } from 'hono';
import { KeelError } from '../errors/index.ts';
import type { Logger } from 'pino';
import type { AgentDefinition } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import { ApiProblem, sessionNotVisible } from './api-problem.ts';
import { hasRole } from './api-keys.ts';
import type { ApiKeyStore, ApiPrincipal } from './api-keys.ts';
import type { ApiRole } from './api-schemas.ts';
import type { SessionHub } from './session-hub.ts';
import type { SessionOwner, SessionOwners } from './session-owners.ts';
import type { ViewSources } from './session-views.ts';

import type { SessionQueue } from './session-queue.ts';

/** Everything a route handler needs, built once per server. */
export interface ServerContext {
  readonly keel: Keel;
  readonly agents: ReadonlyMap<string, AgentDefinition>;
  readonly hub: SessionHub;
  readonly owners: SessionOwners;
  readonly keys: ApiKeyStore;
  readonly views: ViewSources;
  /** The workers' run queue; null when every session runs in this process. */
  readonly queue: SessionQueue | null;
  /** Where POST /v1/sessions runs a session that names no mode. */
  readonly defaultMode: 'in-process' | 'queue';
  /** This server's id in the claim history, for a session it claims to cancel. */
  readonly serverId: string;
  readonly logger: Logger;
  readonly now: () => number;
  /** Environment and folder that counterfactual model calls resolve providers from. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** How long an SSE stream stays quiet before a keep-alive comment. */
  readonly keepAliveMs: number;
  /** How often a stream of a session running elsewhere (a worker) reads the journal for new events. */
  readonly pollMs: number;
}

export interface ServerVariables {
  requestId: string;
  principal: ApiPrincipal;
}

export type ServerEnv = { Variables: ServerVariables };

/** The caller's principal, refused with 403 when it lacks `role`. */
export function requireRole(c: Context<ServerEnv>, role: ApiRole): ApiPrincipal {
  const principal = c.get('principal');
  if (!hasRole(principal, role)) {
    throw new ApiProblem({ status: 403, code: 'forbidden', message: `This key (${principal.keyId}) lacks the "${role}" role; ask an admin for a key with it.` });
  }
  return principal;
}

/** The session's owner when the caller's tenant owns it; otherwise the same 404 as for a session that does not exist. */
export async function visibleSession(context: ServerContext, principal: ApiPrincipal, sessionId: string): Promise<SessionOwner> {
  const owner = await context.owners.get(sessionId);
  if (owner === undefined || owner.tenant !== principal.tenant) throw sessionNotVisible(sessionId);
  return owner;
}

/** The agent a session runs, which must be loaded in this server to act on the session. */
export function agentOf(context: ServerContext, owner: SessionOwner): AgentDefinition {
  const agent = context.agents.get(owner.agent);
  if (agent === undefined) {
    throw new KeelError('agent-not-loaded', `Session ${owner.sessionId} runs agent "${owner.agent}", which this server has not loaded; restart it with that agent in its agents folder.`);
  }
  return agent;
}

/** The approver recorded in the journal and the audit log for a decision made with this key. */
export function approverOf(principal: ApiPrincipal): string {
  return `api-key:${principal.keyId} (${principal.name}, tenant ${principal.tenant})`;
}
