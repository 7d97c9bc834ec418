import { KeelError } from '../errors/index.ts';
import type { KeelCode } from '../errors/index.ts';
import { parseRetryAfter } from '../util/index.ts';
import { ProviderApiError, ProviderConnectionError, ProviderTimeoutError } from './provider-failures.ts';

/** The fields of an SDK's `APIError` (and of Keel's `ProviderApiError`) that the mapping reads. */
interface ApiErrorShape extends Error {
  readonly status: number | undefined;
  readonly error: unknown;
  readonly headers: Headers | undefined;
  readonly type?: string | null | undefined;
  /** OpenAI's `code`; Anthropic's SDK calls it `errorCode`. */
  readonly code?: string | null | undefined;
  readonly errorCode?: string | null | undefined;
  readonly requestID?: string | null | undefined;
}

type ErrorClass = abstract new (...parameters: never[]) => Error;

/** The error classes of one provider SDK, from the most to the least specific. */
export interface SdkErrorClasses {
  /** Keel's direct clients have none: a cancelled call is reported from its signal. */
  readonly abort?: ErrorClass;
  readonly timeout: ErrorClass;
  readonly connection: ErrorClass;
  readonly api: ErrorClass;
}

/**
 * The error classes recognised: those of Keel's direct clients, and those of each SDK, which adds itself when the
 * module that uses it is loaded (on a model's first call through it), so that importing Keel loads no SDK.
 */
const sdkErrorClasses: SdkErrorClasses[] = [{ timeout: ProviderTimeoutError, connection: ProviderConnectionError, api: ProviderApiError }];

/** Makes `mapProviderError` recognise an SDK's errors; called by the module that loads that SDK. */
export function recogniseSdkErrors(classes: SdkErrorClasses): void {
  if (!sdkErrorClasses.includes(classes)) sdkErrorClasses.push(classes);
}

type ErrorKind = 'abort' | 'timeout' | 'connection' | 'api';

/** Which kind of SDK failure an error is; the checks go from subclass to base class, as the classes derive. */
function kindOf(error: unknown): ErrorKind | undefined {
  if (!(error instanceof Error)) return undefined;
  for (const kind of ['abort', 'timeout', 'connection', 'api'] as const) {
    if (sdkErrorClasses.some((classes) => classes[kind] !== undefined && error instanceof classes[kind])) return kind;
  }
  return undefined;
}

export interface ProviderErrorContext {
  /** `anthropic`, `openai` or `openai-compatible`: decides the wording and the environment variable named. */
  readonly provider: string;
  readonly modelId: string;
  readonly baseURL?: string;
  /** When this signal has aborted, any failure is reported as the cancellation it caused. */
  readonly signal?: AbortSignal;
}

/** Turns whatever an SDK call threw into a KeelError whose code, retryability and message say what to do next. */
export function mapProviderError(error: unknown, given: ProviderErrorContext): KeelError {
  if (error instanceof KeelError) return error;
  const context = given.baseURL === undefined ? given : { ...given, baseURL: withoutCredentials(given.baseURL) };
  if (context.signal?.aborted === true) return cancellationError(context.signal, error);
  const kind = kindOf(error);
  if (kind === 'abort' || isAbortError(error)) {
    return new KeelError('cancelled', 'The model call was cancelled.', { cause: error });
  }
  const label = providerLabel(context.provider);
  if (kind === 'timeout') {
    return new KeelError('model-timeout', `${label} did not answer ${context.modelId} in time. Retry; if it keeps happening, check the network or raise the model timeout.`, {
      cause: error,
      details: compact({ provider: context.provider, model: context.modelId }),
    });
  }
  if (kind === 'connection') {
    const target = context.baseURL === undefined ? label : `${label} at ${context.baseURL}`;
    return new KeelError('model-connection', `Could not reach ${target}: ${withoutCredentials(causeText(error as Error))}. Check the network and the base URL (${baseUrlVariable(context.provider)}).`, {
      cause: error,
      details: compact({ provider: context.provider, model: context.modelId }),
    });
  }
  if (kind === 'api') return fromApiError(error as ApiErrorShape, context);
  if (error instanceof SyntaxError) {
    return new KeelError('model-malformed-response', `${label} sent a response for ${context.modelId} that is not valid JSON (${error.message}); the call can be retried.`, {
      cause: error,
      details: compact({ provider: context.provider, model: context.modelId }),
    });
  }
  if (isBrokenBody(error)) {
    return new KeelError('model-connection', `The connection to ${label} broke while reading the response (${causeText(error as Error)}); the call can be retried. If it keeps happening, check the network or proxy.`, {
      cause: error,
      details: compact({ provider: context.provider, model: context.modelId }),
    });
  }
  if (error instanceof Error && /could not resolve authentication|api[_ ]key/i.test(error.message)) {
    return new KeelError('missing-credentials', `${label} has no API key: set ${apiKeyVariable(context.provider)}, or choose another model with --model. (${error.message})`, { cause: error });
  }
  const message = withoutCredentials(error instanceof Error ? error.message : String(error));
  return new KeelError('internal', `Calling ${label} (${context.modelId}) failed unexpectedly: ${message}`, { cause: error });
}

/**
 * Failures while reading a stream: an SDK error (an `error` event) maps as above; anything else, such as the
 * socket closing under the body reader, means the stream was cut and the call can be retried whole.
 */
export function mapStreamError(error: unknown, context: ProviderErrorContext): KeelError {
  if (context.signal?.aborted === true) return cancellationError(context.signal, error);
  // Every SDK error class derives from its APIError, so any of them is mapped as a call's failure.
  if (error instanceof KeelError || error instanceof SyntaxError || kindOf(error) !== undefined) {
    return mapProviderError(error, context);
  }
  const message = error instanceof Error ? causeText(error) : String(error);
  return new KeelError('model-stream-cut', `The ${providerLabel(context.provider)} stream for ${context.modelId} broke (${message}); the call can be retried. If it keeps happening, check the network or proxy.`, {
    cause: error,
    details: compact({ provider: context.provider, model: context.modelId }),
  });
}

/** A cancellation keeps the reason its signal carries when that reason is already a KeelError (a deadline, say). */
export function cancellationError(signal: AbortSignal, cause?: unknown): KeelError {
  const reason: unknown = signal.reason;
  if (reason instanceof KeelError) return reason;
  return new KeelError('cancelled', 'The model call was cancelled.', { cause: cause ?? reason });
}

interface ApiErrorFacts {
  readonly status: number | undefined;
  readonly type: string | undefined;
  readonly code: string | undefined;
  readonly message: string;
  readonly requestId: string | undefined;
  readonly headers: Headers | undefined;
}

function fromApiError(error: ApiErrorShape, context: ProviderErrorContext): KeelError {
  const facts = readFacts(error);
  const status = facts.status ?? statusForType(facts.type, facts.code);
  const code = codeFor(status, facts);
  const shouldRetry = facts.headers?.get('x-should-retry');
  const retryAfterMs = parseRetryAfter(facts.headers);
  return new KeelError(code, messageFor(code, facts, context), {
    cause: error,
    ...(shouldRetry === 'true' ? { retryable: true } : shouldRetry === 'false' ? { retryable: false } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    details: compact({
      provider: context.provider,
      model: context.modelId,
      status: facts.status,
      requestId: facts.requestId,
      type: facts.type,
      code: facts.code,
      // An error event inside a 200 stream has no status of its own.
      midStream: facts.status === undefined ? true : undefined,
    }),
  });
}

function readFacts(error: ApiErrorShape): ApiErrorFacts {
  const body = error.error as { message?: unknown; error?: { message?: unknown } } | undefined;
  // Anthropic keeps the whole body (`{type:"error", error:{type, message}}`); OpenAI keeps its inner `error` object.
  const bodyMessage = body?.error?.message ?? body?.message;
  const code = 'errorCode' in error ? error.errorCode : error.code;
  return {
    status: error.status,
    type: error.type ?? undefined,
    code: code ?? undefined,
    message: typeof bodyMessage === 'string' ? bodyMessage : error.message,
    requestId: error.requestID ?? undefined,
    headers: error.headers,
  };
}

/** Error events inside a stream carry only a type; this is the status the same error has on a plain response. */
function statusForType(type: string | undefined, code: string | undefined): number | undefined {
  const byType: Record<string, number> = {
    invalid_request_error: 400,
    authentication_error: 401,
    billing_error: 402,
    permission_error: 403,
    not_found_error: 404,
    request_too_large: 413,
    rate_limit_error: 429,
    insufficient_quota: 429,
    api_error: 500,
    server_error: 500,
    timeout_error: 504,
    overloaded_error: 529,
  };
  if (code === 'rate_limit_exceeded') return 429;
  return type === undefined ? undefined : byType[type];
}

function codeFor(status: number | undefined, facts: ApiErrorFacts): KeelCode {
  if (facts.type === 'insufficient_quota' || facts.code === 'insufficient_quota' || facts.type === 'billing_error' || status === 402) return 'model-quota-exhausted';
  if (status === 429) return 'model-rate-limited';
  if (status === 529 || facts.type === 'overloaded_error') return 'model-overloaded';
  if (status === 408) return 'model-timeout';
  // A stream that broke with an error event of unknown type failed on the provider's side.
  if (status === undefined || status >= 500 || status === 409) return 'model-server-error';
  if (isContextWindowError(facts)) return 'model-context-window';
  if (status === 401) return 'model-authentication';
  if (status === 403) return 'model-permission';
  if (status === 404) return 'model-not-found';
  return 'model-bad-request';
}

function isContextWindowError(facts: ApiErrorFacts): boolean {
  if (facts.code === 'context_length_exceeded') return true;
  // Anthropic says "prompt is too long"; vLLM and others say "maximum context length".
  return /prompt is too long|maximum context length|context window|context_length_exceeded/i.test(facts.message);
}

function messageFor(code: KeelCode, facts: ApiErrorFacts, context: ProviderErrorContext): string {
  const label = providerLabel(context.provider);
  // An error event inside a 200 stream has no status of its own; the inferred one is not shown as if sent.
  const what = [facts.status ?? 'in the stream', facts.type, facts.code].filter((part) => part !== undefined && part !== null).join(' ');
  const said = `${label} said (${what}): ${facts.message.replace(/[.\s]+$/, '')}`;
  switch (code) {
    case 'model-quota-exhausted':
      return `${said}. The account's quota or credit is exhausted; add credit or raise the billing limit. Retrying will not help.`;
    case 'model-rate-limited':
      return `${said}. Rate limit reached for ${context.modelId}: wait and retry; if it persists, lower concurrency or raise the account's rate limit.`;
    case 'model-overloaded':
      return `${said}. ${label} is overloaded, which is temporary: retry later, or choose another model with --model.`;
    case 'model-server-error':
      return `${said}. A failure on the provider's side: retry later.`;
    case 'model-timeout':
      return `${said}. The provider timed out: retry later.`;
    case 'model-context-window':
      return `${said}. The request is larger than ${context.modelId}'s context window: shorten the conversation (context budgets) or use a model with a larger window.`;
    case 'model-authentication':
      return `${said}. The API key was rejected: check ${apiKeyVariable(context.provider)}.`;
    case 'model-permission':
      return `${said}. The API key may not use ${context.modelId}: check the key's workspace or project permissions, or choose another model with --model.`;
    case 'model-not-found':
      return `${said}. Model '${context.modelId}' was not found: check the model id given with --model${context.baseURL === undefined ? '' : ` and the base URL ${context.baseURL}`}.`;
    default:
      return `${said}. The provider rejected the request as invalid for ${context.modelId}; this is likely an option the model does not support or a bug in how Keel built the request.`;
  }
}

function providerLabel(provider: string): string {
  if (provider === 'anthropic') return 'Anthropic';
  if (provider === 'openai') return 'OpenAI';
  if (provider === 'openai-compatible') return 'The OpenAI-compatible server';
  return provider;
}

function apiKeyVariable(provider: string): string {
  return provider === 'anthropic' ? 'ANTHROPIC_API_KEY' : 'OPENAI_API_KEY';
}

function baseUrlVariable(provider: string): string {
  if (provider === 'anthropic') return 'ANTHROPIC_BASE_URL';
  if (provider === 'openai-compatible') return 'the URL after @ in --model';
  return 'OPENAI_BASE_URL';
}

function causeText(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : '';
    return `${cause.message}${inner}`;
  }
  return error.message;
}

/** undici reports a socket closed under the body reader as `TypeError: terminated`. */
function isBrokenBody(error: unknown): boolean {
  return error instanceof TypeError && /terminated|other side closed|socket/i.test(`${error.message} ${causeText(error)}`);
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ABORT_ERR');
}

/** A user name and password written into a URL (`http://user:secret@proxy/`) never reach an error message. */
function withoutCredentials(text: string): string {
  return text.replace(/\/\/[^/@\s]+@/g, '//***@');
}

function compact(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined && value !== null));
}
