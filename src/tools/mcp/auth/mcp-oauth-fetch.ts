import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { KeelError } from '../../../errors/index.ts';
import { loadMcpSdk } from '../mcp-sdk.ts';
import { KeelOAuthProvider, loginNeeded } from './mcp-oauth-provider.ts';

export interface OAuthFetchOptions {
  readonly serverName: string;
  readonly serverUrl: URL;
  readonly provider: OAuthClientProvider;
  readonly fetch?: FetchLike;
  /** Scope upgrades (403 `insufficient_scope`) tried per connection before giving up. Defaults to 3. */
  readonly maxScopeUpgrades?: number;
}

/**
 * The fetch the MCP transport uses against a protected server. It sends the stored bearer token, renews an expired
 * one first, and answers a challenge by authorizing again through the SDK's `auth()`: a 401 (no token, expired,
 * revoked) with the `resource_metadata` and `scope` its `WWW-Authenticate` names, a 403 `insufficient_scope` by
 * asking for the wider scope (step-up), at most `maxScopeUpgrades` times so a server that never accepts cannot keep
 * a person in a loop. The request is then sent once more; a second refusal is returned to the transport.
 * Authorizations are serialized, so concurrent requests that meet the same challenge share one.
 */
export function createOAuthFetch(options: OAuthFetchOptions): FetchLike {
  const base: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const maxUpgrades = options.maxScopeUpgrades ?? 3;
  let upgrades = 0;
  let authorizing: Promise<void> | null = null;

  const authorize = (challenge: { resourceMetadataUrl?: URL; scope?: string }): Promise<void> => {
    const run = (authorizing ?? Promise.resolve()).then(() => authorizeOnce(options, base, challenge));
    const settled = run.catch(() => undefined);
    authorizing = settled;
    return run;
  };

  const send = async (url: string | URL, init: RequestInit | undefined): Promise<Response> => {
    const headers = new Headers(init?.headers);
    const tokens = await options.provider.tokens();
    if (tokens !== undefined) headers.set('Authorization', `Bearer ${tokens.access_token}`);
    return base(url, { ...init, headers });
  };

  return async (url, init) => {
    if (authorizing !== null) await authorizing;
    const provider = options.provider;
    if (provider instanceof KeelOAuthProvider && provider.needsRefresh()) await authorize({});
    const response = await send(url, init);
    const challenge = (await loadMcpSdk()).extractWWWAuthenticateParams(response);
    if (response.status === 401) {
      await response.body?.cancel().catch(() => undefined);
      await authorize(challenge);
      return send(url, init);
    }
    if (response.status === 403 && challenge.error === 'insufficient_scope') {
      if (upgrades >= maxUpgrades) return response;
      upgrades += 1;
      await response.body?.cancel().catch(() => undefined);
      // A refresh keeps the scope of the grant; a wider scope needs a new authorization, so the tokens go first.
      await options.provider.invalidateCredentials?.('tokens');
      await authorize(challenge);
      return send(url, init);
    }
    return response;
  };
}

/**
 * One authorization through the SDK's `auth()`: refresh when a refresh token is stored, else (with a person at
 * hand) the authorization-code flow, the handler supplying the code. Failures are `missing-credentials`.
 */
export async function authorizeOnce(options: Pick<OAuthFetchOptions, 'serverName' | 'serverUrl' | 'provider'>, fetchFn: FetchLike, challenge: { resourceMetadataUrl?: URL; scope?: string }): Promise<void> {
  const { provider, serverUrl, serverName } = options;
  // Without a person at hand and nothing to refresh, stop before registering a client that could never be used.
  if (provider instanceof KeelOAuthProvider && !provider.interactive && !provider.hasTokens()) throw loginNeeded(serverName);
  const request = {
    serverUrl,
    fetchFn,
    ...(challenge.resourceMetadataUrl === undefined ? {} : { resourceMetadataUrl: challenge.resourceMetadataUrl }),
    ...(challenge.scope === undefined ? {} : { scope: challenge.scope }),
  };
  try {
    const { auth } = await loadMcpSdk();
    let result = await auth(provider, request);
    if (result === 'REDIRECT') {
      const code = provider instanceof KeelOAuthProvider ? provider.takeAuthorizationCode() : null;
      if (code === null) throw loginNeeded(serverName);
      result = await auth(provider, { ...request, authorizationCode: code });
    }
    if (result !== 'AUTHORIZED') throw loginNeeded(serverName, `authorization ended with ${String(result)}`);
  } catch (error) {
    if (error instanceof KeelError) throw error;
    throw new KeelError('missing-credentials', `MCP server "${serverName}": authorization failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { server: serverName } });
  }
}
