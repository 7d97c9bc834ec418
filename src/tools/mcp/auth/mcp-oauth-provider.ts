import { randomBytes } from 'node:crypto';
import type { OAuthClientProvider, OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { KeelError } from '../../../errors/index.ts';
import type { McpAuthorizationHandler, McpOAuthConfig } from './mcp-auth-config.ts';
import type { McpTokenStore } from './mcp-token-store.ts';

export interface KeelOAuthProviderOptions {
  readonly serverName: string;
  readonly config: McpOAuthConfig;
  readonly store: McpTokenStore;
  /** Overrides `config.authorize` (the login command brings its own loopback listener). */
  readonly authorize?: McpAuthorizationHandler;
  /** Overrides the stored or configured redirect port (the port the login listener got). */
  readonly redirectPort?: number;
}

/** Port used in the redirect URI before any login chose one; a login replaces it with the port it listens on. */
const placeholderPort = 33418;

/**
 * The SDK's `OAuthClientProvider` over Keel's per-server token file. The SDK's `auth()` drives discovery,
 * registration, PKCE, the `resource` parameter, scope selection and refresh; this class decides where state lives
 * and what happens when a person has to act: with a handler the authorization URL goes to it and the code it
 * returns is kept for the exchange, without one the caller is told to run `keel mcp login`.
 */
export class KeelOAuthProvider implements OAuthClientProvider {
  private readonly options: KeelOAuthProviderOptions;
  private pendingCode: string | null = null;

  constructor(options: KeelOAuthProviderOptions) {
    this.options = options;
    const { clientId, clientSecret } = options.config;
    if (clientId !== undefined && this.options.store.read().clientInformation === undefined) {
      this.options.store.update({ clientInformation: { client_id: clientId, ...(clientSecret === undefined ? {} : { client_secret: clientSecret }) } });
    }
  }

  get interactive(): boolean {
    return this.handler !== undefined;
  }

  private get handler(): McpAuthorizationHandler | undefined {
    return this.options.authorize ?? this.options.config.authorize;
  }

  get redirectUrl(): string {
    const port = this.options.redirectPort ?? this.options.store.read().redirectPort ?? this.options.config.redirectPort ?? placeholderPort;
    return `http://127.0.0.1:${port}/callback`;
  }

  get clientMetadataUrl(): string | undefined {
    return this.options.config.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const preRegistered = this.options.config.clientSecret !== undefined;
    return {
      client_name: this.options.config.clientName ?? 'keel',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      // A CLI cannot keep a secret it would be given; a pre-registered confidential client authenticates with its own.
      token_endpoint_auth_method: preRegistered ? 'client_secret_basic' : 'none',
      ...(this.options.config.scope === undefined ? {} : { scope: this.options.config.scope }),
    };
  }

  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.options.store.read().clientInformation;
  }

  saveClientInformation(clientInformation: OAuthClientInformationMixed): void {
    this.options.store.update({ clientInformation });
  }

  tokens(): OAuthTokens | undefined {
    return this.options.store.read().tokens;
  }

  saveTokens(tokens: OAuthTokens): void {
    const expiresAt = typeof tokens.expires_in === 'number' ? Date.now() + tokens.expires_in * 1000 : undefined;
    // A refresh response may omit the refresh token, meaning the old one stays valid (RFC 6749 §6).
    const previous = this.options.store.read().tokens;
    const kept = tokens.refresh_token === undefined && previous?.refresh_token !== undefined ? { ...tokens, refresh_token: previous.refresh_token } : tokens;
    this.options.store.update({ tokens: kept, tokensExpireAt: expiresAt, codeVerifier: undefined });
  }

  /** True when the stored access token has expired (with a minute's margin) and a refresh token could renew it. */
  needsRefresh(now = Date.now()): boolean {
    const stored = this.options.store.read();
    return stored.tokens?.refresh_token !== undefined && stored.tokensExpireAt !== undefined && stored.tokensExpireAt - 60_000 <= now;
  }

  hasTokens(): boolean {
    return this.options.store.read().tokens !== undefined;
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    const handler = this.handler;
    if (handler === undefined) throw loginNeeded(this.options.serverName);
    this.pendingCode = await handler(authorizationUrl);
  }

  /** The code the handler returned for the authorization just started; consumed once. */
  takeAuthorizationCode(): string | null {
    const code = this.pendingCode;
    this.pendingCode = null;
    return code;
  }

  /** A fresh `state` per authorization, so the loopback listener accepts only the redirect of the request it started. */
  state(): string {
    return randomBytes(16).toString('base64url');
  }

  saveCodeVerifier(codeVerifier: string): void {
    this.options.store.update({ codeVerifier });
  }

  codeVerifier(): string {
    const verifier = this.options.store.read().codeVerifier;
    if (verifier === undefined) throw new KeelError('missing-credentials', `No authorization is in progress for MCP server "${this.options.serverName}"; run \`keel mcp login ${this.options.serverName}\`.`);
    return verifier;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.options.store.update({ discoveryState: state });
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.options.store.read().discoveryState;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    const keepClient = this.options.config.clientId !== undefined;
    switch (scope) {
      case 'all':
        this.options.store.update({ tokens: undefined, tokensExpireAt: undefined, codeVerifier: undefined, discoveryState: undefined, ...(keepClient ? {} : { clientInformation: undefined }) });
        break;
      case 'client':
        if (!keepClient) this.options.store.update({ clientInformation: undefined });
        break;
      case 'tokens':
        this.options.store.update({ tokens: undefined, tokensExpireAt: undefined });
        break;
      case 'verifier':
        this.options.store.update({ codeVerifier: undefined });
        break;
      case 'discovery':
        this.options.store.update({ discoveryState: undefined });
        break;
    }
  }
}

/** The error a service gets when the server wants a person to authorize and none is at hand. */
export function loginNeeded(serverName: string, detail?: string): KeelError {
  return new KeelError(
    'missing-credentials',
    `MCP server "${serverName}" requires authorization${detail === undefined ? '' : ` (${detail})`}: run \`keel mcp login ${serverName} --url <server url>\` once, or configure client credentials for a service.`,
    { details: { server: serverName } },
  );
}
