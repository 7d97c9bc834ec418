/**
 * How Keel gets a token for a person: called with the authorization server's URL (PKCE, `resource` and `scope`
 * already in it) once no stored or refreshable token is left; resolves to the authorization code the server
 * redirected back with. `keel mcp login` prints the URL and waits on 127.0.0.1 (`loopbackAuthorization`).
 */
export type McpAuthorizationHandler = (authorizationUrl: URL) => Promise<string>;

/**
 * OAuth for a person (authorization code with PKCE). Discovery follows MCP's authorization rules: protected-resource
 * metadata (from the server's `WWW-Authenticate` or its well-known URL), then the authorization server's metadata;
 * the client is identified by a client ID metadata document when the server supports one and `clientMetadataUrl`
 * is set, else by dynamic registration, else by the pre-registered `clientId`. Tokens are refreshed when they expire
 * and kept per server in `tokenDirectory`, mode 0600.
 */
export interface McpOAuthConfig {
  readonly kind: 'oauth';
  /** Scope asked for when neither the server's challenge nor its metadata names one. */
  readonly scope?: string;
  /** The name shown on the consent screen. Defaults to `keel`. */
  readonly clientName?: string;
  /** An HTTPS URL serving this client's metadata document, used as the client ID where the server supports it. */
  readonly clientMetadataUrl?: string;
  /** A client registered with the authorization server in advance (no dynamic registration). */
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** Where tokens are kept. Defaults to `KEEL_MCP_AUTH_DIR`, else `~/.keel/mcp-auth`. */
  readonly tokenDirectory?: string;
  /**
   * Lets a running agent send a person to the authorization page when no usable token is left. Without it the
   * connection fails with `missing-credentials` naming `keel mcp login <server>`, which a service should run once.
   */
  readonly authorize?: McpAuthorizationHandler;
  /** The loopback port of the redirect URI when none is stored yet. Defaults to a free port chosen at login. */
  readonly redirectPort?: number;
}

/** OAuth client credentials for a service: no person, no redirect; the token is fetched again when it expires. */
export interface McpClientCredentialsConfig {
  readonly kind: 'client-credentials';
  readonly clientId: string;
  /** `client_secret_basic` authentication. Give this or `privateKey`. */
  readonly clientSecret?: string;
  /** PEM private key for `private_key_jwt` authentication (RFC 7523). */
  readonly privateKey?: string;
  /** Signing algorithm for `privateKey`. Defaults to `RS256`. */
  readonly algorithm?: string;
  readonly scope?: string;
  /**
   * The authorization server's issuer URL. When set, the credentials are sent only to that server, whatever the MCP
   * server's metadata names; without it the MCP server's protected-resource metadata decides where they go.
   */
  readonly expectedIssuer?: string;
}

export type McpAuthConfig = McpOAuthConfig | McpClientCredentialsConfig;
