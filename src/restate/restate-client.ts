import { KeelError } from '../errors/index.ts';
import type { SessionResult } from '../loop/index.ts';
import { defaultRestateConfig } from './restate-config.ts';
import type { RestateApproval, RestateApprovalReply, RestateSessionRequest } from './session-object.ts';

/** The default name of the virtual object that runs Keel sessions. */
export const defaultServiceName = defaultRestateConfig.serviceName;

export interface RestateCall {
  /** The cluster's ingress URL. */
  readonly ingressUrl: string;
  /** The session object's name; `KeelSession` unless the endpoint was given another. */
  readonly serviceName?: string;
  readonly sessionId: string;
  /** How long to wait for the cluster; default 30 s. */
  readonly timeoutMs?: number;
}

/** Starts (or continues) a session on Restate without waiting for it; returns Restate's invocation id. */
export async function sendSession(call: RestateCall, request: RestateSessionRequest): Promise<string> {
  const reply = await post<{ invocationId?: string }>(`${objectPath(call)}/run/send`, request, call);
  if (typeof reply.invocationId !== 'string') throw new KeelError('internal', `Restate accepted the session ${call.sessionId} without an invocation id.`);
  return reply.invocationId;
}

/** Starts (or continues) a session on Restate and waits for its outcome (a session that waits for people waits too). */
export function runSessionOnRestate(call: RestateCall, request: RestateSessionRequest): Promise<SessionResult> {
  return post<SessionResult>(`${objectPath(call)}/run`, request, call);
}

/**
 * Node's fetch gives up on a response whose headers take longer than 300 s, whatever the caller's own timeout, and an
 * attach answers only when the session ends; so a long wait is made of attaches shorter than that, one after another
 * (attaching again only waits for the same invocation).
 */
const attachSliceMs = 240_000;

/** Waits for the outcome of an invocation sent earlier, up to `timeoutMs` (default 30 s) in all. */
export async function attachInvocation(call: Omit<RestateCall, 'sessionId' | 'serviceName'>, invocationId: string): Promise<SessionResult> {
  const url = `${call.ingressUrl}/restate/invocation/${encodeURIComponent(invocationId)}/attach`;
  const deadline = Date.now() + (call.timeoutMs ?? defaultTimeoutMs);
  for (;;) {
    const remaining = deadline - Date.now();
    try {
      return await request<SessionResult>(url, { method: 'GET' }, Math.max(1, Math.min(remaining, attachSliceMs)));
    } catch (error) {
      const timedOut = error instanceof KeelError && error.details?.timedOut === true;
      if (!timedOut || remaining <= attachSliceMs) throw error;
    }
  }
}

/** Sends a person's decision to the session's waiting awakeable; `handled` is false when that call was not waiting on Restate. */
export function approveOnRestate(call: RestateCall, approval: RestateApproval): Promise<RestateApprovalReply> {
  return post<RestateApprovalReply>(`${objectPath(call)}/approve`, approval, call);
}

export interface Registration {
  /** The cluster's admin API URL. */
  readonly adminUrl: string;
  /** Where the cluster reaches the endpoint, e.g. http://127.0.0.1:9080. */
  readonly endpointUrl: string;
  /** Replace a registration of the same URL whose services changed (a development cluster). */
  readonly force?: boolean;
  readonly timeoutMs?: number;
}

/** Registers a served endpoint with a Restate cluster (the admin API's POST /deployments); returns the services it found. */
export async function registerDeployment(registration: Registration): Promise<readonly string[]> {
  const reply = await request<{ services?: readonly { name?: string }[] }>(
    `${registration.adminUrl}/deployments`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: registration.endpointUrl, force: registration.force ?? false }) },
    registration.timeoutMs,
  );
  return (reply.services ?? []).map((service) => service.name ?? '').filter((name) => name !== '');
}

function objectPath(call: RestateCall): string {
  return `${call.ingressUrl}/${encodeURIComponent(call.serviceName ?? defaultServiceName)}/${encodeURIComponent(call.sessionId)}`;
}

function post<T>(url: string, body: unknown, call: { readonly timeoutMs?: number }): Promise<T> {
  return request<T>(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }, call.timeoutMs);
}

/** Replies larger than this are refused: a session result is small, and a reply must not exhaust memory. */
const maxReplyBytes = 16 * 1024 * 1024;

const defaultTimeoutMs = 30_000;

/** Whether fetch failed because a timeout ran out (ours, or Node's own 300 s limit on a response's headers). */
function isTimeout(error: unknown): boolean {
  if (error instanceof Error && error.name === 'TimeoutError') return true;
  const cause = error instanceof Error ? (error.cause as { code?: unknown } | undefined) : undefined;
  return cause?.code === 'UND_ERR_HEADERS_TIMEOUT';
}

async function request<T>(url: string, init: RequestInit, timeoutMs = defaultTimeoutMs): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    if (isTimeout(error)) {
      throw new KeelError('deadline-exceeded', `Restate at ${new URL(url).origin} did not answer ${init.method ?? 'GET'} ${new URL(url).pathname} within ${timeoutMs} ms; the cluster or the endpoint may be overloaded (raise timeoutMs to wait longer).`, {
        cause: error,
        retryable: true,
        details: { timedOut: true, timeoutMs },
      });
    }
    throw new KeelError('invalid-config', `Restate at ${new URL(url).origin} did not answer (${error instanceof Error ? error.message : String(error)}); check that the cluster runs and that KEEL_RESTATE_INGRESS_URL / KEEL_RESTATE_ADMIN_URL point at it.`, { cause: error, retryable: true });
  }
  const text = await response.text();
  if (text.length > maxReplyBytes) throw new KeelError('internal', `Restate's reply from ${url} is larger than ${maxReplyBytes} bytes.`);
  if (!response.ok) {
    const message = restateMessage(text);
    const code = response.status === 404 ? 'session-not-found' : 'invalid-argument';
    throw new KeelError(code, `Restate refused ${init.method ?? 'GET'} ${new URL(url).pathname} (HTTP ${response.status}): ${message}`, { details: { status: response.status } });
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KeelError('internal', `Restate answered ${new URL(url).pathname} with something that is not JSON: ${text.slice(0, 200)}`);
  }
}

function restateMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.slice(0, 2_000);
  } catch {
    // Not JSON: the text itself.
  }
  return text.slice(0, 2_000);
}
