export type { McpAuthConfig, McpOAuthConfig, McpClientCredentialsConfig, McpAuthorizationHandler } from './mcp-auth-config.ts';
export { authorizedFetch, checkAuthConfig } from './mcp-authorized-fetch.ts';
export { loginMcpServer, loopbackAuthorization } from './mcp-login.ts';
export type { McpLoginOptions, McpLoginResult, LoopbackAuthorization, LoopbackOptions } from './mcp-login.ts';
export { McpTokenStore, defaultTokenDirectory } from './mcp-token-store.ts';
export type { McpStoredAuthorization } from './mcp-token-store.ts';
