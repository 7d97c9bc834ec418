import { KeelError } from '../errors/index.ts';
import { resumeSession, startSession } from '../loop/index.ts';
import type { AgentDefinition, LoopDependencies, RunOptions, SessionRun, StartOptions } from '../loop/index.ts';
import { recordPlanDecision, resumePlanner, startPlanner } from '../planner/index.ts';
import type { PlanDecision, PlannerServices } from '../planner/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import { refuseSelfApproval } from './approval-chain.ts';
import { acquireSessionLease } from './leased-run.ts';
import type { LeaseSettings } from './leased-run.ts';

/** A planner's services from the loop's dependencies: its journal, clock, model and pricing, and the child runner. */
function plannerServices(agent: AgentDefinition, dependencies: LoopDependencies): PlannerServices {
  const children = dependencies.children;
  if (children === undefined) throw new KeelError('invalid-config', `Agent "${agent.name}" plans its steps as child sessions, which need the runtime's child runner; run it through createKeel.`);
  return { journal: dependencies.journal, clock: dependencies.clock, caller: dependencies.model, price: dependencies.price, children };
}

/** Starts an agent's session: a planner session when the agent plans (`defineAgent({ planner })`), else the agent loop. */
export function startAgentSession(agent: AgentDefinition, dependencies: LoopDependencies, options: StartOptions & { readonly sessionId: string }): SessionRun {
  if (agent.planner === undefined) return startSession(agent, dependencies, options);
  return startPlanner(agent, plannerServices(agent, dependencies), options);
}

/**
 * Resumes an agent's session the way it runs. A planner agent's own sessions resume as planner sessions; the child
 * sessions of its steps (which record a parent) run the agent loop, as they did when they started.
 */
export function resumeAgentSession(agent: AgentDefinition, dependencies: LoopDependencies, sessionId: string, options: RunOptions, start: SessionEvent | undefined): SessionRun {
  const child = start?.type === 'session-start' && start.parentSessionId !== undefined;
  if (agent.planner === undefined || child) return resumeSession(agent, dependencies, sessionId, options);
  const agentModule = start?.type === 'session-start' ? start.agent.module : undefined;
  return resumePlanner(agent, plannerServices(agent, dependencies), sessionId, { ...options, ...(agentModule === undefined ? {} : { agentModule }) });
}

export interface PlanDecisionSettings {
  readonly leases: LeaseSettings;
  readonly journal: Journal;
  readonly clock: Clock;
  readonly readEvents: (sessionId: string) => Promise<SessionEvent[]>;
}

/**
 * Journals a person's decision on a waiting plan under the session's lease (a decision is a write like a step), and
 * leaves the lease held for the resume that follows (same owner). A refused decision releases it.
 */
export async function recordPlanDecisionUnderLease(settings: PlanDecisionSettings, agent: AgentDefinition, sessionId: string, decision: PlanDecision): Promise<void> {
  await acquireSessionLease(settings.leases, sessionId);
  try {
    await refuseSelfApproval(settings.readEvents, sessionId, decision.approver);
    await recordPlanDecision(settings.journal, settings.clock, agent, sessionId, decision);
  } catch (error) {
    await settings.leases.store.release(sessionId, settings.leases.owner);
    throw error;
  }
}
