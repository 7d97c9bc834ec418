import { z } from 'zod';
import { KeelError } from '../../errors/index.ts';
import { hashValue } from '../../util/index.ts';
import type { ToolDefinition } from '../define-tool.ts';
import { callResultOutput } from './mcp-call-result.ts';
import { callFailure, isTransportFailure } from './mcp-call-error.ts';
import type { McpConnection } from './mcp-connection.ts';
import { resolveMcpServerConfig, type McpServerConfig, type ResolvedMcpServerConfig } from './mcp-server-config.ts';
import type { McpToolCall, SkippedMcpTool, toMcpToolDefinitions } from './mcp-tool-definition.ts';
import { callRequest, deliveryFailed, reportCall } from './mcp-call-telemetry.ts';
import { loadMcpSdk } from './mcp-sdk.ts';

export interface McpSourceStatus {
  /** `disconnected`: the server died or could not be reached; the next `refresh()` tries to reconnect. */
  readonly state: 'connected' | 'disconnected' | 'closed';
  /** Why the last refresh or the connection failed; null while everything works. */
  readonly lastError: KeelError | null;
}

/** One MCP server as a source of tools. */
export interface McpToolSource {
  readonly name: string;
  /** The cached list from the last successful refresh; kept while the server is down, whose tools then fail fast and retryably. */
  tools(): readonly ToolDefinition[];
  /** Tools the server listed that Keel cannot offer, with the reason (bad schema, task-only, duplicate name). */
  skippedTools(): readonly SkippedMcpTool[];
  /** Lists the tools again, first reconnecting once if the server was lost; fails with `mcp-unavailable`. */
  refresh(): Promise<readonly ToolDefinition[]>;
  /** Called with the new list whenever a refresh finds it changed, including refreshes the server asks for. Returns an unsubscribe. */
  onToolsChanged(listener: (tools: readonly ToolDefinition[]) => void): () => void;
  status(): McpSourceStatus;
  /** Ends the session and stops a stdio server; later calls fail with a non-retryable `mcp-unavailable`. */
  close(): Promise<void>;
}

/**
 * Starts or reaches an MCP server, completes the handshake and lists its tools. Fails with `mcp-unavailable` (naming
 * the command or URL and, for stdio, the end of the server's stderr) when it cannot, and leaves no process behind.
 * @example
 * ```ts
 * const files = await connectMcpServer({
 *   name: 'files',
 *   transport: { kind: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '/srv/reports'] },
 *   riskOverrides: { read_text_file: 'read', list_directory: 'read' },
 * });
 * try {
 *   const agent = defineAgent({ name: 'reporter', instructions: 'Summarise this week’s reports.', toolSources: [files] });
 *   await createKeel().run(agent, 'What changed this week?').result;
 * } finally {
 *   await files.close();
 * }
 * ```
 */
export async function connectMcpServer(config: McpServerConfig): Promise<McpToolSource> {
  const resolved = resolveMcpServerConfig(config);
  const source = new McpServerToolSource({ config: resolved, modules: await loadConnectionModules() });
  try {
    await source.refresh();
  } catch (error) {
    await source.close();
    throw error;
  }
  return source;
}

/** Lenient on purpose: each tool is checked on its own later, so one malformed entry does not hide the others. */
const listResultSchema = z.object({ tools: z.array(z.unknown()), nextCursor: z.string().optional() });
/** A server that hands out cursors forever must not keep a refresh running forever. */
const maxListPages = 100;

/** The modules that import the MCP SDK, loaded with the first server connected so that importing Keel does not load it. */
interface ConnectionModules {
  readonly McpConnection: typeof McpConnection;
  readonly toMcpToolDefinitions: typeof toMcpToolDefinitions;
}

let connectionModules: Promise<ConnectionModules> | undefined;

function loadConnectionModules(): Promise<ConnectionModules> {
  connectionModules ??= Promise.all([loadMcpSdk(), import('./mcp-connection.ts'), import('./mcp-tool-definition.ts')]).then(
    ([, connection, definitions]) => ({ McpConnection: connection.McpConnection, toMcpToolDefinitions: definitions.toMcpToolDefinitions }),
    (error: unknown) => {
      connectionModules = undefined;
      throw error;
    },
  );
  return connectionModules;
}

class McpServerToolSource implements McpToolSource {
  private connection: McpConnection | null = null;
  private cached: readonly ToolDefinition[] = [];
  private skipped: readonly SkippedMcpTool[] = [];
  private listSignature: string | null = null;
  private readonly listeners = new Set<(tools: readonly ToolDefinition[]) => void>();
  private lastError: KeelError | null = null;
  private closed = false;
  /** Refreshes run one at a time: two interleaved listings could leave an older list in the cache. */
  private queueTail: Promise<unknown> = Promise.resolve();
  private waiting: Promise<readonly ToolDefinition[]> | null = null;

  private readonly config: ResolvedMcpServerConfig;
  private readonly modules: ConnectionModules;
  constructor(parts: { readonly config: ResolvedMcpServerConfig; readonly modules: ConnectionModules }) {
    this.config = parts.config;
    this.modules = parts.modules;
  }

  get name(): string {
    return this.config.name;
  }

  tools(): readonly ToolDefinition[] {
    return this.cached;
  }

  skippedTools(): readonly SkippedMcpTool[] {
    return this.skipped;
  }

  status(): McpSourceStatus {
    if (this.closed) return { state: 'closed', lastError: this.lastError };
    return { state: this.connection?.alive === true ? 'connected' : 'disconnected', lastError: this.lastError };
  }

  onToolsChanged(listener: (tools: readonly ToolDefinition[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  refresh(): Promise<readonly ToolDefinition[]> {
    // A refresh that has not started yet will fetch the newest list anyway, so a burst of requests shares it.
    if (this.waiting !== null) return this.waiting;
    const run = this.queueTail.then(() => {
      this.waiting = null;
      return this.refreshNow();
    });
    this.waiting = run;
    this.queueTail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    const connection = this.connection;
    this.connection = null;
    await connection?.close();
  }

  private async refreshNow(): Promise<readonly ToolDefinition[]> {
    if (this.closed) throw this.closedError();
    try {
      let reconnected = false;
      if (this.connection === null || !this.connection.alive) {
        await this.reconnect();
        reconnected = true;
      }
      let listed: unknown[];
      try {
        listed = await this.listTools(this.current());
      } catch (error) {
        // An HTTP server that restarted is only noticed here, so it gets the one reconnect a refresh allows.
        if (reconnected || !isTransportFailure(error)) throw error;
        this.current().markLost();
        await this.reconnect();
        listed = await this.listTools(this.current());
      }
      this.apply(listed);
      this.lastError = null;
      return this.cached;
    } catch (error) {
      const what = `could not list its tools: ${messageOf(error)}`;
      const failure =
        error instanceof KeelError ? error : ((await this.connection?.failure(what, error)) ?? new KeelError('mcp-unavailable', `MCP server "${this.config.name}" ${what}`, { cause: error }));
      this.lastError = failure;
      throw failure;
    }
  }

  private async reconnect(): Promise<void> {
    const previous = this.connection;
    this.connection = null;
    await previous?.close();
    let connection: McpConnection | null = null;
    connection = await this.modules.McpConnection.open(this.config, {
      onToolsChanged: () => {
        // The server asked for a re-list; nobody awaits it, so a failure is kept for `status()` instead of thrown.
        this.refresh().catch(() => undefined);
      },
      onLost: (reason) => {
        if (this.connection === connection) this.lastError = reason;
      },
    });
    if (this.closed) {
      await connection.close();
      throw this.closedError();
    }
    this.connection = connection;
  }

  private current(): McpConnection {
    if (this.connection === null) throw this.closedError();
    return this.connection;
  }

  private async listTools(connection: McpConnection): Promise<unknown[]> {
    const listed: unknown[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < maxListPages; page += 1) {
      const result = await connection.client.request(
        { method: 'tools/list', params: cursor === undefined ? {} : { cursor } },
        listResultSchema,
        { timeout: this.config.timeoutMs },
      );
      listed.push(...result.tools);
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
    return listed;
  }

  private apply(listed: unknown[]): void {
    const signature = hashValue(listed);
    if (signature === this.listSignature) return;
    const changed = this.listSignature !== null;
    const { tools, skipped } = this.modules.toMcpToolDefinitions(this.config, listed, (call) => this.invoke(call));
    this.cached = tools;
    this.skipped = skipped;
    this.listSignature = signature;
    if (!changed) return;
    for (const listener of [...this.listeners]) {
      try {
        listener(tools);
      } catch {
        // A listener's bug must not stop the others from hearing about the change, nor fail the refresh.
      }
    }
  }

  /**
   * Runs one call on whichever connection is current, so definitions handed out before a reconnect keep working.
   * An HTTP connection found lost is replaced first (nothing was sent yet). A transport failure during the call reconnects
   * and sends the call once more only when that is safe: the tool is repeatable (read-only, or idempotent on a trusted
   * server), or the failure shows the server never took the request (connection refused, session unknown).
   * Otherwise the outcome is unknown and the error says so, since a second send could repeat an effect.
   */
  private async invoke(call: McpToolCall): Promise<unknown> {
    const label = `MCP tool "${call.mcpToolName}" on server "${this.config.name}"`;
    if (this.closed) throw this.closedError();
    let connection = await this.usableConnection(label);
    try {
      return await this.send(connection, call, label);
    } catch (error) {
      if (call.context.signal.aborted || !isTransportFailure(error)) throw callFailure(error, label, call.context.signal);
      connection.markLost();
      const failure = await connection.failure(`stopped answering during ${label}: ${messageOf(error)}`, error);
      this.lastError = failure;
      if (this.config.transport.kind !== 'http' || !(call.repeatable || deliveryFailed(error))) throw failure;
      try {
        await this.refresh();
        connection = this.current();
      } catch {
        throw failure;
      }
      try {
        return await this.send(connection, call, label);
      } catch (retryError) {
        if (!call.context.signal.aborted && isTransportFailure(retryError)) connection.markLost();
        throw callFailure(retryError, label, call.context.signal);
      }
    }
  }

  private async usableConnection(label: string): Promise<McpConnection> {
    const connection = this.connection;
    if (connection !== null && connection.alive) return connection;
    // A crashed stdio server is not restarted behind the caller's back (it may crash again on the same input): the
    // next refresh does that. An HTTP session that was lost is opened again at once; nothing was sent on it yet.
    if (this.config.transport.kind === 'stdio') {
      if (connection === null) throw new KeelError('mcp-unavailable', `MCP server "${this.config.name}" is not connected; Keel reconnects on the next refresh of its tools.`);
      throw connection.unavailable('is not running; Keel reconnects on the next refresh of its tools');
    }
    try {
      await this.refresh();
    } catch (error) {
      throw error instanceof KeelError ? error : new KeelError('mcp-unavailable', `MCP server "${this.config.name}" is not reachable for ${label}: ${messageOf(error)}`, { cause: error });
    }
    return this.current();
  }

  private async send(connection: McpConnection, call: McpToolCall, label: string): Promise<unknown> {
    const untrack = connection.calls.track({ ...call.context, tool: call.mcpToolName });
    const { signal, release } = connection.callSignal(call.context.signal);
    const params = callRequest(call);
    let requestId: string | number | undefined;
    let failure: unknown = null;
    try {
      const result = await connection.follow(
        params,
        (id) => (requestId = id),
        () => connection.client.callTool(params, undefined, { signal, timeout: this.config.timeoutMs }),
      );
      return callResultOutput(result, label, call.outputCheck);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      untrack();
      release();
      reportCall({ config: this.config, connection, call, requestId, error: failure });
    }
  }

  private closedError(): KeelError {
    return new KeelError('mcp-unavailable', `MCP server "${this.config.name}" was closed.`, { retryable: false });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
