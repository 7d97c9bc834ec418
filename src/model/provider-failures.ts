/**
 * The failures Keel's direct clients raise, carrying the very fields of the official SDKs' error classes that
 * `mapProviderError` reads (status, body, type, code, request id, headers, message), built the way the SDKs build
 * them. A direct call's failure so maps exactly as an SDK call's does, without loading an SDK to construct it.
 */

/** The connection failed before or while reading a response (the SDKs' `APIConnectionError`). */
export class ProviderConnectionError extends Error {
  constructor(options: { readonly message?: string; readonly cause?: unknown } = {}) {
    super(options.message ?? 'Connection error.');
    this.name = 'ProviderConnectionError';
    // As the SDKs do: a cause only when there is one.
    if (options.cause !== undefined && options.cause !== null) this.cause = options.cause;
  }
}

/** The attempt's timeout fired (the SDKs' `APIConnectionTimeoutError`). */
export class ProviderTimeoutError extends ProviderConnectionError {
  constructor() {
    super({ message: 'Request timed out.' });
    this.name = 'ProviderTimeoutError';
  }
}

/** What a `ProviderApiError` is made of: its own fields and the message. */
export type ProviderApiErrorFields = Pick<ProviderApiError, 'status' | 'error' | 'headers' | 'type' | 'code' | 'requestID' | 'message'>;

/** The provider answered with an error: a non-2xx status, or an error event in a stream (the SDKs' `APIError`). */
export class ProviderApiError extends Error {
  /** Absent for an error event inside a 200 stream. */
  readonly status: number | undefined;
  /** The error body as the SDK keeps it: Anthropic's whole body, OpenAI's inner `error` object. */
  readonly error: unknown;
  readonly headers: Headers | undefined;
  readonly type: string | null | undefined;
  readonly code: string | null | undefined;
  readonly requestID: string | null | undefined;

  constructor(fields: ProviderApiErrorFields) {
    super(fields.message);
    this.name = 'ProviderApiError';
    this.status = fields.status;
    this.error = fields.error;
    this.headers = fields.headers;
    this.type = fields.type;
    this.code = fields.code;
    this.requestID = fields.requestID;
  }
}

interface ErrorBody {
  readonly message?: unknown;
  readonly type?: unknown;
  readonly code?: unknown;
  readonly error?: { readonly type?: unknown; readonly details?: { readonly error_code?: unknown } | null } | null;
}

/** An Anthropic error (status and body, or an `error` event): the whole body is kept, as the SDK keeps it. */
export function anthropicApiError(status: number | undefined, body: unknown, text: string | undefined, headers: Headers, type?: string): ProviderApiError {
  const fields = asBody(body);
  const bodyType = fields?.error?.type;
  const errorCode = fields?.error?.details?.error_code;
  return new ProviderApiError({
    status,
    error: body,
    headers,
    type: type ?? (typeof bodyType === 'string' ? bodyType : null),
    code: typeof errorCode === 'string' ? errorCode : null,
    requestID: headers.get('request-id'),
    message: sdkMessage(status, body, text),
  });
}

/** An OpenAI error: of a status response's body only its `error` object is kept; an `error` chunk's object as it is. */
export function openAIApiError(status: number | undefined, inner: unknown, text: string | undefined, headers: Headers): ProviderApiError {
  const fields = asBody(inner);
  return new ProviderApiError({
    status,
    error: inner,
    headers,
    type: fields?.type as string | null | undefined,
    code: fields?.code as string | null | undefined,
    requestID: headers.get('x-request-id'),
    message: sdkMessage(status, inner, text),
  });
}

/** The inner `error` object of an OpenAI error body, as the SDK picks it. */
export function openAIErrorObject(body: unknown): unknown {
  return asBody(body)?.error ?? undefined;
}

function asBody(value: unknown): ErrorBody | undefined {
  return typeof value === 'object' && value !== null ? (value as ErrorBody) : undefined;
}

/** Both SDKs' `APIError.makeMessage`: "<status> <message or body JSON or text>". */
function sdkMessage(status: number | undefined, error: unknown, text: string | undefined): string {
  const bodyMessage = asBody(error)?.message;
  const message = isTruthy(bodyMessage) ? (typeof bodyMessage === 'string' ? bodyMessage : JSON.stringify(bodyMessage)) : isTruthy(error) ? JSON.stringify(error) : text;
  if (isTruthy(status) && isTruthy(message)) return `${String(status)} ${String(message)}`;
  if (isTruthy(status)) return `${String(status)} status code (no body)`;
  if (isTruthy(message)) return String(message);
  return '(no status code or body)';
}

function isTruthy(value: unknown): boolean {
  return Boolean(value);
}
