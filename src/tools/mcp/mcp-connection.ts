import { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { KeelError, isKeelError } from '../../errors/index.ts';
import { authorizedFetch } from './auth/mcp-authorized-fetch.ts';
import { clientCapabilities, InFlightCalls, registerCapabilityHandlers } from './capabilities/mcp-client-capabilities.ts';
import { describeTransport, type ResolvedMcpServerConfig } from './mcp-server-config.ts';
import { isTransportFailure } from './mcp-call-error.ts';
import { StderrTail } from './stderr-tail.ts';

export interface McpConnectionEvents {
  /** The server said its tool list changed (`notifications/tools/list_changed`). */
  readonly onToolsChanged: () => void;
  /** The transport closed without `close()` being called: the process exited or the stream broke. */
  readonly onLost: (reason: KeelError) => void;
}

const clientInfo = { name: 'keel', version: '0.1.0' };

/**
 * One live session with one server: a started transport and an initialized `Client`. A connection is never revived;
 * the tool source opens a new one, since a restarted server has new state and, over HTTP, a new session.
 */
export class McpConnection {
  private closing = false;
  private lost = false;
  /** The protocol version agreed in `initialize`. */
  protocolVersion: string | undefined;
  /** Per-call abort controllers, so calls waiting on a session that is gone can be failed at once. */
  private readonly waiting = new Set<AbortController>();
  /** JSON-RPC ids of requests sent, keyed by their params object, for the requests a caller asked to follow. */
  private readonly followed = new WeakMap<object, (id: string | number) => void>();

  readonly client: Client;
  /** Calls in flight, so a server's elicitation or sampling request can be tied to the call it serves. */
  readonly calls = new InFlightCalls();
  private readonly transport: StdioClientTransport | StreamableHTTPClientTransport;
  private readonly config: ResolvedMcpServerConfig;
  private readonly stderr: StderrTail;
  private constructor(client: Client, transport: StdioClientTransport | StreamableHTTPClientTransport, config: ResolvedMcpServerConfig, stderr: StderrTail) {
    this.client = client;
    this.transport = transport;
    this.config = config;
    this.stderr = stderr;
  }

  /** Starts the server (stdio) or opens a session (HTTP) and completes `initialize`; any failure is `mcp-unavailable`. */
  static async open(config: ResolvedMcpServerConfig, events: McpConnectionEvents): Promise<McpConnection> {
    const stderr = new StderrTail();
    const transport = createTransport(config, stderr);
    // Only what the operator configured: by default a server can neither steer the model nor ask for the client's files.
    const capabilityConfig = { serverName: config.name, ...(config.roots === undefined ? {} : { roots: config.roots }), ...(config.elicitation === undefined ? {} : { elicitation: config.elicitation }), ...(config.sampling === undefined ? {} : { sampling: config.sampling }) };
    const client = new Client(clientInfo, { capabilities: clientCapabilities(capabilityConfig) });
    const connection = new McpConnection(client, transport, config, stderr);
    registerCapabilityHandlers(client, capabilityConfig, connection.calls);
    connection.observeTransport();
    // A plain handler rather than the SDK's `listChanged` option: that one re-lists with `listTools`, which keeps only
    // the last page and fails the whole list for one malformed tool; the source re-lists its own way.
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => events.onToolsChanged());
    let established = false;
    let exited = false;
    client.onclose = () => {
      exited = true;
      // Before the handshake completes, a close is a failed start, which `open` itself reports.
      if (!established || connection.closing || connection.lost) return;
      connection.lost = true;
      void stderr.settled().then(() => events.onLost(connection.unavailable('closed the connection')));
    };
    client.onerror = (error) => {
      // A response stream that broke: if the session is gone too, the calls waiting on it will never be answered.
      if (established && error.message.startsWith('SSE stream disconnected') && connection.waiting.size > 0) void connection.checkSession();
    };
    const connecting = client.connect(transport, { timeout: config.connectTimeoutMs });
    // The SDK spawns synchronously inside `connect`, so the child's pid is known here, before any failure.
    const pid = transport instanceof StdioClientTransport ? transport.pid : null;
    try {
      await connecting;
    } catch (error) {
      connection.closing = true;
      await transport.close().catch(() => undefined);
      // The SDK's own close on a failed handshake waits seconds before SIGTERM and is not awaited, so a hung child
      // would outlive a short-lived Keel. It never did any work, so it is killed outright; `exited` guards against a reused pid.
      if (pid !== null && !exited) killQuietly(pid);
      await stderr.settled();
      // A server that wants a login is not down: the person has to act, and retrying will not help.
      const authorization = authorizationFailure(error);
      if (authorization !== null) throw authorization;
      throw connection.unavailable(`failed to start: ${messageOf(error)}`, error);
    }
    established = true;
    return connection;
  }

  /**
   * Sends `params` as a request through `send` and reports the JSON-RPC id the SDK gave it (for
   * `jsonrpc.request.id`), by recognising the params object as it passes through the transport.
   */
  follow<T>(params: object, onId: (id: string | number) => void, send: () => Promise<T>): Promise<T> {
    this.followed.set(params, onId);
    return send().finally(() => this.followed.delete(params));
  }

  /**
   * A signal for one call: the caller's, also aborted when the session turns out lost while the call waits (the
   * reason is then a closed connection, a transport failure whose outcome at the server is unknown).
   */
  callSignal(signal: AbortSignal): { readonly signal: AbortSignal; readonly release: () => void } {
    const controller = new AbortController();
    const forward = (): void => controller.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener('abort', forward, { once: true });
    this.waiting.add(controller);
    return {
      signal: controller.signal,
      release: () => {
        signal.removeEventListener('abort', forward);
        this.waiting.delete(controller);
      },
    };
  }

  /** Pings the server after a broken stream; when the session is gone, fails the calls waiting on it. */
  private async checkSession(): Promise<void> {
    try {
      await this.client.ping({ timeout: 5_000 });
    } catch (error) {
      if (!isTransportFailure(error)) return;
      this.lost = true;
      // ConnectionClosed: the SDK passes an McpError reason through as is, and it reads as a transport failure.
      const reason = new McpError(ErrorCode.ConnectionClosed, `the connection broke and the session is gone (${messageOf(error)})`);
      for (const controller of this.waiting) controller.abort(reason);
    }
  }

  /** Taps the transport: the negotiated protocol version (stdio has no setter of its own) and followed requests' ids. */
  private observeTransport(): void {
    const transport = this.transport as (StdioClientTransport | StreamableHTTPClientTransport) & { setProtocolVersion?: (version: string) => void };
    const setVersion = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (version: string) => {
      this.protocolVersion = version;
      setVersion?.(version);
    };
    const send = transport.send.bind(transport) as (message: unknown, options?: unknown) => Promise<void>;
    transport.send = ((message: unknown, options?: unknown) => {
      const request = message as { id?: string | number; params?: unknown };
      if (request.id !== undefined && typeof request.params === 'object' && request.params !== null) this.followed.get(request.params)?.(request.id);
      return send(message, options);
    }) as typeof transport.send;
  }

  /** The HTTP session id the server assigned (`Mcp-Session-Id`); undefined over stdio. */
  get sessionId(): string | undefined {
    return this.transport instanceof StreamableHTTPClientTransport ? this.transport.sessionId : undefined;
  }

  /** False once the transport has closed on its own; calls on a lost connection fail fast instead of waiting. */
  get alive(): boolean {
    return !this.closing && !this.lost;
  }

  /** Marks the connection unusable after a transport failure the SDK does not report as a close (a refused HTTP request). */
  markLost(): void {
    this.lost = true;
  }

  /** Like `unavailable`, after giving the stderr of a process that just died a moment to arrive. */
  async failure(what: string, cause?: unknown): Promise<KeelError> {
    await this.stderr.settled();
    return this.unavailable(what, cause);
  }

  /** An `mcp-unavailable` error naming the server, how it is reached, and for stdio the last of its stderr. */
  unavailable(what: string, cause?: unknown): KeelError {
    const tail = this.stderr.current();
    const target = `${this.config.transport.kind === 'stdio' ? 'command' : 'url'}: ${describeTransport(this.config.transport)}`;
    return new KeelError(
      'mcp-unavailable',
      `MCP server "${this.config.name}" ${what} (${target})${tail === '' ? '' : `; its stderr ended with:\n${tail}`}`,
      { cause, details: { server: this.config.name, transport: describeTransport(this.config.transport), stderrTail: tail } },
    );
  }

  /**
   * Over stdio the SDK closes stdin, then sends SIGTERM and SIGKILL to a child that does not exit, as the spec asks.
   * Over HTTP the session is ended with DELETE first, so the server can free it; a server that refuses is fine.
   */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.transport instanceof StreamableHTTPClientTransport && !this.lost) {
      await withTimeout(this.transport.terminateSession(), 2_000).catch(() => undefined);
    }
    await this.client.close().catch(() => undefined);
  }
}

function createTransport(config: ResolvedMcpServerConfig, stderr: StderrTail): StdioClientTransport | StreamableHTTPClientTransport {
  const transport = config.transport;
  if (transport.kind === 'http') {
    return new StreamableHTTPClientTransport(new URL(transport.url), {
      requestInit: { headers: { ...transport.headers } },
      ...(transport.auth === undefined ? {} : { fetch: authorizedFetch(config.name, transport.url, transport.auth) }),
    });
  }
  const stdio = new StdioClientTransport({
    command: transport.command,
    args: [...(transport.args ?? [])],
    ...(transport.env === undefined ? {} : { env: { ...transport.env } }),
    ...(transport.cwd === undefined ? {} : { cwd: transport.cwd }),
    // Piped, not inherited: a server's logs must not interleave with Keel's own output, and the tail explains crashes.
    stderr: 'pipe',
  });
  // With `stderr: 'pipe'` the SDK hands out a PassThrough before spawning, so no early output is missed.
  const stream = stdio.stderr;
  if (stream instanceof Readable) stderr.attach(stream);
  return stdio;
}

/** The `missing-credentials` error somewhere in an error's cause chain, or null. */
export function authorizationFailure(error: unknown): KeelError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth += 1) {
    if (isKeelError(current, 'missing-credentials')) return current as KeelError;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    timer.unref?.();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
