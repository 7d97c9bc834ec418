import { KeelError } from '../../errors/index.ts';
import type { ProviderLimits, ProviderLimitStore, WindowBudget } from '../../spec/provider-limits.ts';
import { formatWait } from './retry-wait.ts';

/** When a new session is refused: budgets of tokens (input + output) per window, and a bound on the queue. */
export interface AdmissionOptions {
  /** What all sessions together may spend per window. */
  readonly globalBudget?: WindowBudget;
  /** What each tenant may spend per window (a tenant is named by `keel.run(..., { tenant })`). */
  readonly tenantBudget?: WindowBudget;
  /** Budgets of named tenants, in place of `tenantBudget` for them. */
  readonly tenantBudgets?: Readonly<Record<string, WindowBudget>>;
  /** New sessions are refused while more calls than this wait in the account's queue. */
  readonly maxQueueLength?: number;
}

export interface AdmissionRequest {
  /** The account the session's first call will go to. */
  readonly account: string;
  readonly tenant?: string;
}

interface AdmissionContext {
  readonly now: number;
  readonly limits: ProviderLimits;
}

function tenantBudgetOf(options: AdmissionOptions | undefined, tenant: string | undefined): WindowBudget | undefined {
  if (tenant === undefined) return undefined;
  return options?.tenantBudgets?.[tenant] ?? options?.tenantBudget;
}

function refused(message: string, retryAfterMs: number, details: Record<string, unknown>): KeelError {
  const wait = Math.max(1, Math.ceil(retryAfterMs));
  return new KeelError('admission-refused', `${message} Try again in ${formatWait(wait)}.`, { retryAfterMs: wait, details: { ...details, retryAfterMs: wait } });
}

/** Admission control: checked once before a session starts; spending is added after every model call. */
export const admissionCheck = {
  async admit(store: ProviderLimitStore, options: AdmissionOptions | undefined, request: AdmissionRequest, context: AdmissionContext): Promise<void> {
    if (options === undefined) return;
    if (options.globalBudget !== undefined) {
      const state = await store.budget('global', options.globalBudget, context.now);
      if (state.spent >= options.globalBudget.tokens) {
        throw refused(`No new session starts now: the token budget of ${options.globalBudget.tokens} per ${formatWait(options.globalBudget.windowMs)} is spent (${state.spent} tokens).`, state.resetInMs, { reason: 'global-budget', spent: state.spent, budget: options.globalBudget.tokens });
      }
    }
    const tenantBudget = tenantBudgetOf(options, request.tenant);
    if (tenantBudget !== undefined && request.tenant !== undefined) {
      const state = await store.budget(`tenant:${request.tenant}`, tenantBudget, context.now);
      if (state.spent >= tenantBudget.tokens) {
        throw refused(`No new session starts now for tenant '${request.tenant}': its token budget of ${tenantBudget.tokens} per ${formatWait(tenantBudget.windowMs)} is spent (${state.spent} tokens).`, state.resetInMs, { reason: 'tenant-budget', tenant: request.tenant, spent: state.spent, budget: tenantBudget.tokens });
      }
    }
    if (options.maxQueueLength !== undefined) {
      const length = await store.queueLength(request.account, context.now);
      if (length > options.maxQueueLength) {
        // The excess drains at the account's request rate; without a known rate, a second per waiting call is a guess on the safe side.
        const perCallMs = context.limits.requestsPerMinute === undefined ? 1_000 : 60_000 / context.limits.requestsPerMinute;
        throw refused(`No new session starts now: ${length} model calls wait in the queue of account '${request.account}', more than the bound of ${options.maxQueueLength}.`, (length - options.maxQueueLength) * perCallMs, { reason: 'queue-length', account: request.account, queueLength: length, maxQueueLength: options.maxQueueLength });
      }
    }
  },

  async spend(store: ProviderLimitStore, options: AdmissionOptions | undefined, tenant: string | undefined, tokens: number, now: number): Promise<void> {
    if (options === undefined) return;
    if (options.globalBudget !== undefined) await store.spend('global', options.globalBudget, tokens, now);
    const tenantBudget = tenantBudgetOf(options, tenant);
    if (tenantBudget !== undefined && tenant !== undefined) await store.spend(`tenant:${tenant}`, tenantBudget, tokens, now);
  },
};
