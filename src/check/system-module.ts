import { KeelError } from '../errors/index.ts';
import { isAgentDefinition } from '../loop/index.ts';
import type { AgentDefinition, BudgetLimits } from '../loop/index.ts';
import type { ToolPolicyOptions } from '../security/tool-policy.ts';
import type { WorkflowStep } from '../workflow/index.ts';
import type { AgentSystem } from './check-types.ts';

const stepKinds = new Set(['function', 'model', 'agent', 'chain', 'route', 'parallel', 'vote']);

/** Whether a value is a workflow step (`chain(...)`, `route(...)`, `agentStep(...)`, …). */
export function isWorkflowStep(value: unknown): value is WorkflowStep<never, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { kind?: unknown; shape?: unknown; execute?: unknown; name?: unknown };
  return typeof candidate.name === 'string' && typeof candidate.kind === 'string' && stepKinds.has(candidate.kind) && typeof candidate.shape === 'object' && typeof candidate.execute === 'function';
}

/**
 * The system a module declares. Its default export is an agent, a workflow, an array of them, or an object whose
 * values are agents or workflows; its optional named exports are `policy` (the ToolPolicyOptions given to
 * `createKeel({ policy })`) and `budget` (the BudgetLimits of a root run). A CommonJS module compiled from
 * `export default` arrives with its exports under `default` and is unwrapped.
 * @example
 * ```ts
 * const system = systemFromModule(await import('./system.ts'), 'system.ts');
 * if (!checkSystem(system).holds) process.exitCode = 1;
 * ```
 */
export function systemFromModule(exports: Readonly<Record<string, unknown>>, modulePath: string): AgentSystem {
  const namespace = unwrapCommonJs(exports);
  const entries = entryPoints(namespace.default, modulePath);
  return {
    agents: entries.filter(isAgentDefinition),
    workflows: entries.filter(isWorkflowStep),
    ...(namespace.policy === undefined ? {} : { policy: checkedPolicy(namespace.policy, modulePath) }),
    ...(namespace.budget === undefined ? {} : { budget: checkedBudget(namespace.budget, modulePath) }),
  };
}

function unwrapCommonJs(exports: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const inner = exports.default;
  if (isEntry(inner) || Array.isArray(inner) || typeof inner !== 'object' || inner === null) return exports;
  const nested = inner as Record<string, unknown>;
  return 'default' in nested ? nested : exports;
}

function isEntry(value: unknown): value is AgentDefinition | WorkflowStep<never, unknown> {
  return isAgentDefinition(value) || isWorkflowStep(value);
}

const formatHint = 'export default an agent, a workflow, an array of them, or an object whose values are agents or workflows (for example `export default [desk, billing]`)';

function entryPoints(value: unknown, modulePath: string): (AgentDefinition | WorkflowStep<never, unknown>)[] {
  if (value === undefined) throw new KeelError('invalid-config', `${modulePath} has no default export: ${formatHint}.`);
  if (isEntry(value)) return [value];
  const values = Array.isArray(value) ? (value as unknown[]) : typeof value === 'object' && value !== null ? Object.values(value) : [value];
  const entries: (AgentDefinition | WorkflowStep<never, unknown>)[] = [];
  for (const [position, entry] of values.entries()) {
    if (!isEntry(entry)) {
      const key = Array.isArray(value) ? `[${position}]` : `.${Object.keys(value as object)[position] ?? position}`;
      throw new KeelError('invalid-config', `${modulePath}: the default export${key} is neither an agent nor a workflow: ${formatHint}.`);
    }
    entries.push(entry);
  }
  if (entries.length === 0) throw new KeelError('invalid-config', `${modulePath}: the default export holds no agent or workflow: ${formatHint}.`);
  return entries;
}

function checkedPolicy(value: unknown, modulePath: string): ToolPolicyOptions {
  const rules = (value as { rules?: unknown } | null)?.rules;
  if (typeof value !== 'object' || value === null || (rules !== undefined && !Array.isArray(rules))) {
    throw new KeelError('invalid-config', `${modulePath}: the named export \`policy\` must be the tool policy options given to createKeel({ policy }): { rules?: [...], defaults?: {...} }.`);
  }
  return value as ToolPolicyOptions;
}

function checkedBudget(value: unknown, modulePath: string): BudgetLimits {
  if (typeof value !== 'object' || value === null) {
    throw new KeelError('invalid-config', `${modulePath}: the named export \`budget\` must be a root run's budget: { tokens?, costUsd?, timeMs? }.`);
  }
  for (const kind of ['tokens', 'costUsd', 'timeMs'] as const) {
    const limit = (value as Record<string, unknown>)[kind];
    if (limit !== undefined && !(typeof limit === 'number' && Number.isFinite(limit) && limit > 0)) {
      throw new KeelError('invalid-config', `${modulePath}: budget.${kind} must be a positive number, got ${JSON.stringify(limit)}.`);
    }
  }
  return value as BudgetLimits;
}
