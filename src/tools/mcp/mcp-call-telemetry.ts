import { isKeelError } from '../../errors/index.ts';
import { mcpTraceparent, recordMcpCall } from '../../tracing/mcp-call-telemetry.ts';
import type { McpConnection } from './mcp-connection.ts';
import { isMcpError, isStreamableHttpError } from './mcp-sdk.ts';
import type { ResolvedMcpServerConfig } from './mcp-server-config.ts';
import type { McpToolCall } from './mcp-tool-definition.ts';

/** The `tools/call` params: the arguments, and the trace context of the call's span in `_meta` when it is traced. */
export function callRequest(call: McpToolCall): { name: string; arguments: Record<string, unknown>; _meta?: Record<string, unknown> } {
  const traceparent = mcpTraceparent(call.context.sessionId, call.context.callId);
  return {
    name: call.mcpToolName,
    arguments: call.input as Record<string, unknown>,
    ...(traceparent === undefined ? {} : { _meta: { traceparent } }),
  };
}

interface CallReport {
  readonly config: ResolvedMcpServerConfig;
  readonly connection: McpConnection;
  readonly call: McpToolCall;
  readonly requestId: string | number | undefined;
  readonly error: unknown;
}

/** The MCP attributes of one request, for the call's `execute_tool` span (the semantic conventions' `mcp.*` set). */
export function reportCall(report: CallReport): void {
  const { config, connection, call } = report;
  const attributes: Record<string, string | number> = {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.description': call.description,
    'network.transport': config.transport.kind === 'http' ? 'tcp' : 'pipe',
  };
  if (connection.protocolVersion !== undefined) attributes['mcp.protocol.version'] = connection.protocolVersion;
  const sessionId = connection.sessionId;
  if (sessionId !== undefined) attributes['mcp.session.id'] = sessionId;
  if (report.requestId !== undefined) attributes['jsonrpc.request.id'] = String(report.requestId);
  if (config.transport.kind === 'http') {
    const url = new URL(config.transport.url);
    attributes['server.address'] = url.hostname;
    attributes['server.port'] = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    attributes['network.protocol.name'] = 'http';
  }
  if (isMcpError(report.error)) {
    attributes['error.type'] = String(report.error.code);
    attributes['rpc.response.status_code'] = String(report.error.code);
  } else if (isKeelError(report.error, 'tool-failed')) {
    attributes['error.type'] = 'tool_error';
  }
  recordMcpCall(call.context.sessionId, call.context.callId, attributes);
}

/** A failure that proves the server never took the request: refused connection, or a session it does not know. */
export function deliveryFailed(error: unknown): boolean {
  if (isStreamableHttpError(error)) return error.code === 404;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  const code = (error as { code?: unknown } | null)?.code ?? cause?.code;
  return code === 'ECONNREFUSED';
}
