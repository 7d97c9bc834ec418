/**
 * The meeting point of MCP tool calls and the live tracer. The MCP client (a lower-level consumer than the runtime
 * that wires telemetry) asks for the W3C `traceparent` of the `execute_tool` span a call runs under, to propagate it
 * in the request's `params._meta`, and reports the MCP attributes of the request (`mcp.method.name`,
 * `mcp.session.id`, `mcp.protocol.version`, `jsonrpc.request.id`, `server.address`, …), which the tracer adds to that
 * span rather than opening a second one, as the conventions ask when an outer GenAI span already traces the tool.
 */
export interface McpCallObserver {
  traceparent(sessionId: string, callId: string): string | undefined;
  record(sessionId: string, callId: string, attributes: Readonly<Record<string, string | number>>): void;
}

const observers = new Set<McpCallObserver>();

/** Registers an observer (one per live tracer); returns the function that removes it. */
export function observeMcpCalls(observer: McpCallObserver): () => void {
  observers.add(observer);
  return () => observers.delete(observer);
}

/** The traceparent of the span the call runs under, from the first tracer that follows the session. */
export function mcpTraceparent(sessionId: string, callId: string): string | undefined {
  for (const observer of observers) {
    const value = observer.traceparent(sessionId, callId);
    if (value !== undefined) return value;
  }
  return undefined;
}

export function recordMcpCall(sessionId: string, callId: string, attributes: Readonly<Record<string, string | number>>): void {
  for (const observer of observers) observer.record(sessionId, callId, attributes);
}
