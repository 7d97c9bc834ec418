import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { KeelError } from '../../../errors/index.ts';
import { mcpSdk } from '../mcp-sdk.ts';
import type { McpAuthConfig } from './mcp-auth-config.ts';
import { createOAuthFetch } from './mcp-oauth-fetch.ts';
import { KeelOAuthProvider } from './mcp-oauth-provider.ts';
import { defaultTokenDirectory, McpTokenStore } from './mcp-token-store.ts';

/**
 * The fetch an HTTP transport uses for a server with `auth` configured: bearer tokens, renewal and challenges handled.
 * Called while a connection opens, after the MCP SDK is loaded.
 */
export function authorizedFetch(serverName: string, serverUrl: string, config: McpAuthConfig): FetchLike {
  return createOAuthFetch({ serverName, serverUrl: new URL(serverUrl), provider: providerFor(serverName, serverUrl, config) });
}

function providerFor(serverName: string, serverUrl: string, config: McpAuthConfig): OAuthClientProvider {
  if (config.kind === 'oauth') {
    const store = new McpTokenStore({ directory: config.tokenDirectory ?? defaultTokenDirectory(), serverName, serverUrl });
    return new KeelOAuthProvider({ serverName, config, store });
  }
  const { ClientCredentialsProvider, PrivateKeyJwtProvider } = mcpSdk();
  const scope = { ...(config.scope === undefined ? {} : { scope: config.scope }), ...(config.expectedIssuer === undefined ? {} : { expectedIssuer: config.expectedIssuer }) };
  if (config.privateKey !== undefined) {
    return new PrivateKeyJwtProvider({ clientId: config.clientId, privateKey: config.privateKey, algorithm: config.algorithm ?? 'RS256', clientName: 'keel', ...scope });
  }
  if (config.clientSecret !== undefined) {
    return new ClientCredentialsProvider({ clientId: config.clientId, clientSecret: config.clientSecret, clientName: 'keel', ...scope });
  }
  throw new KeelError('invalid-config', `MCP server "${serverName}": client-credentials auth needs clientSecret or privateKey.`);
}

/** Checks an `auth` block once, at configuration time. */
export function checkAuthConfig(serverName: string, config: McpAuthConfig): void {
  if (config.kind === 'client-credentials') {
    if (config.clientId.trim() === '') throw new KeelError('invalid-config', `MCP server "${serverName}": auth.clientId is empty.`);
    if ((config.clientSecret === undefined) === (config.privateKey === undefined)) {
      throw new KeelError('invalid-config', `MCP server "${serverName}": client-credentials auth needs exactly one of clientSecret and privateKey.`);
    }
    return;
  }
  if (config.kind !== 'oauth') throw new KeelError('invalid-config', `MCP server "${serverName}": auth.kind must be "oauth" or "client-credentials", got "${String((config as { kind: unknown }).kind)}".`);
  if (config.clientMetadataUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(config.clientMetadataUrl);
    } catch (error) {
      throw new KeelError('invalid-config', `MCP server "${serverName}": auth.clientMetadataUrl is not a URL.`, { cause: error });
    }
    if (url.protocol !== 'https:' || url.pathname === '/') {
      throw new KeelError('invalid-config', `MCP server "${serverName}": auth.clientMetadataUrl must be an https URL with a path (a client ID metadata document).`);
    }
  }
  if (config.clientSecret !== undefined && config.clientId === undefined) throw new KeelError('invalid-config', `MCP server "${serverName}": auth.clientSecret needs auth.clientId.`);
}
