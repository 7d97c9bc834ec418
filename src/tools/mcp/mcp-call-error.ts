import { KeelError } from '../../errors/index.ts';
import { isMcpError, isStreamableHttpError, mcpSdk } from './mcp-sdk.ts';

const networkErrorCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET']);

/**
 * Whether an error means the server cannot be reached at all (so the call is worth retrying once it is back), as
 * opposed to the server answering with an error. The SDK reports a dead stdio child as `ConnectionClosed` for calls in
 * flight and as "Not connected" for later ones; over HTTP a refused or dropped request surfaces from `fetch`, and an
 * expired session or a failing endpoint as `StreamableHTTPError`.
 */
export function isTransportFailure(error: unknown): boolean {
  if (isMcpError(error)) return error.code === mcpSdk().ErrorCode.ConnectionClosed;
  if (isStreamableHttpError(error)) return true;
  if (!(error instanceof Error)) return false;
  if (error.message === 'Not connected') return true;
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && networkErrorCodes.has(code)) return true;
  return error instanceof TypeError && error.message === 'fetch failed';
}

/**
 * The KeelError for a call the server did answer, or that ended on our side. The cancellation reason wins when the
 * caller's signal fired: the executor aborts with its own `tool-timeout` or `cancelled`, and the SDK rejects with it.
 */
export function callFailure(error: unknown, label: string, signal: AbortSignal): KeelError {
  if (signal.aborted) {
    if (signal.reason instanceof KeelError) return signal.reason;
    return new KeelError('cancelled', `${label} was cancelled.`, { cause: error });
  }
  if (error instanceof KeelError) return error;
  if (isMcpError(error) && error.code === mcpSdk().ErrorCode.RequestTimeout) {
    return new KeelError('tool-timeout', `${label} did not answer in time.`, { cause: error });
  }
  if (isMcpError(error)) {
    // A JSON-RPC error from the server (unknown tool, invalid arguments) or the SDK's check of the declared output schema.
    return new KeelError('tool-failed', `${label} failed: ${error.message}`, { cause: error, details: { mcpCode: error.code } });
  }
  // Typically a result that does not parse as a CallToolResult: the server answered, but not in MCP's shape.
  return new KeelError('tool-failed', `${label} sent a result Keel could not read: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
