// The MCP SDK (about 150 modules with its JSON-schema validator) is loaded when a server is first connected or logged
// into, not when Keel is imported: a process that runs sessions without MCP servers never pays for it.
import type * as AuthExtensionsModule from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import type * as AuthModule from '@modelcontextprotocol/sdk/client/auth.js';
import type * as ClientModule from '@modelcontextprotocol/sdk/client/index.js';
import type * as StdioModule from '@modelcontextprotocol/sdk/client/stdio.js';
import type * as StreamableHttpModule from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type * as TypesModule from '@modelcontextprotocol/sdk/types.js';
import { KeelError } from '../../errors/index.ts';

/** The parts of the SDK Keel uses. */
export interface McpSdk {
  readonly Client: typeof ClientModule.Client;
  readonly StdioClientTransport: typeof StdioModule.StdioClientTransport;
  readonly StreamableHTTPClientTransport: typeof StreamableHttpModule.StreamableHTTPClientTransport;
  readonly StreamableHTTPError: typeof StreamableHttpModule.StreamableHTTPError;
  readonly McpError: typeof TypesModule.McpError;
  readonly ErrorCode: typeof TypesModule.ErrorCode;
  readonly LATEST_PROTOCOL_VERSION: typeof TypesModule.LATEST_PROTOCOL_VERSION;
  readonly ToolSchema: typeof TypesModule.ToolSchema;
  readonly ToolListChangedNotificationSchema: typeof TypesModule.ToolListChangedNotificationSchema;
  readonly ListRootsRequestSchema: typeof TypesModule.ListRootsRequestSchema;
  readonly ElicitRequestSchema: typeof TypesModule.ElicitRequestSchema;
  readonly CreateMessageRequestSchema: typeof TypesModule.CreateMessageRequestSchema;
  readonly auth: typeof AuthModule.auth;
  readonly extractWWWAuthenticateParams: typeof AuthModule.extractWWWAuthenticateParams;
  readonly ClientCredentialsProvider: typeof AuthExtensionsModule.ClientCredentialsProvider;
  readonly PrivateKeyJwtProvider: typeof AuthExtensionsModule.PrivateKeyJwtProvider;
}

let loaded: McpSdk | undefined;
let loading: Promise<McpSdk> | undefined;

async function importSdk(): Promise<McpSdk> {
  const [client, stdio, streamableHttp, types, auth, authExtensions] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/index.js'),
    import('@modelcontextprotocol/sdk/client/stdio.js'),
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
    import('@modelcontextprotocol/sdk/client/auth.js'),
    import('@modelcontextprotocol/sdk/client/auth-extensions.js'),
  ]);
  return {
    Client: client.Client,
    StdioClientTransport: stdio.StdioClientTransport,
    StreamableHTTPClientTransport: streamableHttp.StreamableHTTPClientTransport,
    StreamableHTTPError: streamableHttp.StreamableHTTPError,
    McpError: types.McpError,
    ErrorCode: types.ErrorCode,
    LATEST_PROTOCOL_VERSION: types.LATEST_PROTOCOL_VERSION,
    ToolSchema: types.ToolSchema,
    ToolListChangedNotificationSchema: types.ToolListChangedNotificationSchema,
    ListRootsRequestSchema: types.ListRootsRequestSchema,
    ElicitRequestSchema: types.ElicitRequestSchema,
    CreateMessageRequestSchema: types.CreateMessageRequestSchema,
    auth: auth.auth,
    extractWWWAuthenticateParams: auth.extractWWWAuthenticateParams,
    ClientCredentialsProvider: authExtensions.ClientCredentialsProvider,
    PrivateKeyJwtProvider: authExtensions.PrivateKeyJwtProvider,
  };
}

/** Loads the SDK once; every later call gets the same modules. A failed load is retried by the next call. */
export function loadMcpSdk(): Promise<McpSdk> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  loading ??= importSdk().then(
    (sdk) => (loaded = sdk),
    (error: unknown) => {
      loading = undefined;
      throw new KeelError('mcp-unavailable', `The MCP SDK (@modelcontextprotocol/sdk) could not be loaded: ${error instanceof Error ? error.message : String(error)}. Reinstall Keel's dependencies.`, { cause: error, retryable: false });
    },
  );
  return loading;
}

/**
 * The SDK for code that runs on a connection (or a login), which loaded it before it started. Throws when called
 * before: that is a bug in Keel, not something a configuration can cause.
 */
export function mcpSdk(): McpSdk {
  if (loaded === undefined) throw new KeelError('internal', 'The MCP SDK was used before loadMcpSdk() finished; open the connection through McpConnection.open.');
  return loaded;
}

/**
 * Whether `error` is the SDK's `McpError`. Such an error is created by the SDK's own classes, so one that reached
 * Keel exists only once the SDK is loaded; before that, nothing is one.
 */
export function isMcpError(error: unknown): error is TypesModule.McpError {
  return loaded !== undefined && error instanceof loaded.McpError;
}

/** Whether `error` is the SDK's `StreamableHTTPError` (an HTTP status from a streamable HTTP server); see isMcpError. */
export function isStreamableHttpError(error: unknown): error is StreamableHttpModule.StreamableHTTPError {
  return loaded !== undefined && error instanceof loaded.StreamableHTTPError;
}
