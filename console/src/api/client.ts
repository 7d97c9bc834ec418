import type { AgentInfo, AuditView, ContextDiffView, CounterfactualBody, CounterfactualView, ExplainPlan, Me, ReplaySummary, SessionList, SessionStatus, SessionView, TurnReplay } from './types.ts';

/** An error the API answered with (`{ error: { code, message, requestId } }`), or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly requestId: string | null;

  constructor(options: { status: number; code: string; message: string; requestId: string | null }) {
    super(options.message);
    this.name = 'ApiError';
    this.status = options.status;
    this.code = options.code;
    this.requestId = options.requestId;
  }
}

export interface SessionFilters {
  readonly status?: SessionStatus | '';
  readonly agent?: string;
  readonly since?: number;
  readonly until?: number;
  readonly limit?: number;
  readonly cursor?: string | null;
}

export interface ApprovalDecision {
  readonly decision: 'approve' | 'reject';
  readonly editedInput?: unknown;
  readonly reason?: string;
}

/** Every request carries the key as a Bearer token; the key lives in this tab's sessionStorage only. */
export class ApiClient {
  readonly key: string;
  readonly base: string;

  constructor(key: string, base = '') {
    this.key = key;
    this.base = base;
  }

  me(): Promise<Me> {
    return this.#get('/v1/me');
  }

  agents(): Promise<{ agents: readonly AgentInfo[] }> {
    return this.#get('/v1/agents');
  }

  sessions(filters: SessionFilters = {}): Promise<SessionList> {
    const query = new URLSearchParams();
    if (filters.status !== undefined && filters.status !== '') query.set('status', filters.status);
    if (filters.agent !== undefined && filters.agent !== '') query.set('agent', filters.agent);
    if (filters.since !== undefined) query.set('since', String(filters.since));
    if (filters.until !== undefined) query.set('until', String(filters.until));
    if (filters.limit !== undefined) query.set('limit', String(filters.limit));
    if (filters.cursor !== undefined && filters.cursor !== null) query.set('cursor', filters.cursor);
    const text = query.toString();
    return this.#get(`/v1/sessions${text === '' ? '' : `?${text}`}`);
  }

  session(id: string): Promise<SessionView> {
    return this.#get(`/v1/sessions/${encodeURIComponent(id)}`);
  }

  startSession(body: { agent: string; task: string }): Promise<SessionView> {
    return this.#send('POST', '/v1/sessions', body);
  }

  cancel(id: string): Promise<{ session: SessionView }> {
    return this.#send('POST', `/v1/sessions/${encodeURIComponent(id)}/cancel`, {});
  }

  decide(id: string, callId: string, decision: ApprovalDecision): Promise<SessionView> {
    return this.#send('POST', `/v1/sessions/${encodeURIComponent(id)}/approvals/${encodeURIComponent(callId)}`, decision);
  }

  explain(id: string, turn: number): Promise<ExplainPlan> {
    return this.#get(`/v1/sessions/${encodeURIComponent(id)}/turns/${turn}/explain`);
  }

  replaySummary(id: string): Promise<ReplaySummary> {
    return this.#get(`/v1/sessions/${encodeURIComponent(id)}/replay`);
  }

  replay(id: string, turn: number): Promise<TurnReplay> {
    return this.#get(`/v1/sessions/${encodeURIComponent(id)}/turns/${turn}/replay`);
  }

  counterfactual(id: string, turn: number, body: CounterfactualBody): Promise<CounterfactualView> {
    return this.#send('POST', `/v1/sessions/${encodeURIComponent(id)}/turns/${turn}/counterfactual`, body);
  }

  diff(a: string, b: string): Promise<ContextDiffView> {
    return this.#get(`/v1/diff?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  }

  audit(id: string): Promise<AuditView> {
    return this.#get(`/v1/sessions/${encodeURIComponent(id)}/audit`);
  }

  /** Headers for requests the client does not make itself (the event stream). */
  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.key}`, ...extra };
  }

  #get<T>(path: string): Promise<T> {
    return this.#request<T>(path, { method: 'GET', headers: this.headers() });
  }

  #send<T>(method: 'POST' | 'DELETE', path: string, body: unknown): Promise<T> {
    return this.#request<T>(path, { method, headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
  }

  async #request<T>(path: string, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, init);
    } catch (error) {
      throw new ApiError({ status: 0, code: 'network', message: `The server did not answer (${error instanceof Error ? error.message : String(error)}). Is \`keel serve\` still running?`, requestId: null });
    }
    const requestId = response.headers.get('x-request-id');
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      throw new ApiError({ status: response.status, code: 'bad-response', message: `The server answered ${response.status} with something that is not JSON.`, requestId });
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
      throw new ApiError({ status: response.status, code: error?.code ?? `http-${response.status}`, message: error?.message ?? `The server answered ${response.status}.`, requestId });
    }
    return parsed as T;
  }
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.message}${error.requestId === null ? '' : ` (request ${error.requestId})`}`;
  return error instanceof Error ? error.message : String(error);
}
