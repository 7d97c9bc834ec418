import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError, type KeelError } from '../../src/errors/index.ts';
import { connectMcpServer, loginMcpServer, loopbackAuthorization, McpTokenStore, type McpToolSource } from '../../src/tools/mcp/index.ts';
import { serviceCredentials, startOAuthFixture, type OAuthFixture } from './fixtures/oauth-fixture.ts';
import { caught, findTool, validateAndRun } from './mcp-test-support.ts';

// A real OAuth authorization server and the MCP server it protects, over HTTP on 127.0.0.1 in this process.

describe('MCP authorization', () => {
  let fixture: OAuthFixture;
  let tokenDirectory: string;
  const sources: McpToolSource[] = [];
  beforeAll(async () => {
    fixture = await startOAuthFixture();
  });
  afterAll(async () => {
    await fixture?.stop();
  });
  afterEach(async () => {
    for (const source of sources.splice(0)) await source.close();
    if (tokenDirectory !== undefined) rmSync(tokenDirectory, { recursive: true, force: true });
  });
  const freshDirectory = (): string => (tokenDirectory = mkdtempSync(join(tmpdir(), 'keel-mcp-auth-')));
  /** The person's browser: follows the authorization server's redirect to Keel's loopback listener. */
  const browser = async (url: URL): Promise<void> => {
    await fetch(url);
  };

  it('logs a person in: discovery, dynamic registration, PKCE S256, resource and scope, tokens saved 0600', async () => {
    const directory = freshDirectory();
    const shown: URL[] = [];
    const result = await loginMcpServer({
      name: 'vault',
      url: fixture.mcpUrl,
      auth: { tokenDirectory: directory },
      open: async (url) => {
        shown.push(url);
        await browser(url);
      },
    });
    expect(result.status).toBe('authorized');
    expect(result.scope).toBe('mcp:tools');
    expect(shown).toHaveLength(1);
    expect(shown[0]?.origin).toBe(fixture.issuer);
    const authorization = fixture.log.authorizations.at(-1);
    expect(authorization?.method).toBe('S256');
    expect(authorization?.resource).toBe(fixture.mcpUrl);
    expect(authorization?.scope).toBe('mcp:tools');
    expect(authorization?.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(fixture.log.registrations.at(-1)?.token_endpoint_auth_method).toBe('none');
    const exchange = fixture.log.tokenRequests.at(-1);
    expect(exchange).toMatchObject({ grantType: 'authorization_code', pkceVerified: true, resource: fixture.mcpUrl });
    const file = join(directory, 'vault.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(directory).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { tokens?: { access_token?: string; refresh_token?: string }; codeVerifier?: string };
    expect(saved.tokens?.access_token).toMatch(/^[0-9a-f]+$/);
    expect(saved.tokens?.refresh_token).toMatch(/^[0-9a-f]+$/);
    expect(saved.codeVerifier).toBeUndefined();

    // A connection made later (a service, no person at hand) uses the stored token.
    const source = await connectMcpServer({ name: 'vault', transport: { kind: 'http', url: fixture.mcpUrl, auth: { kind: 'oauth', tokenDirectory: directory } }, trust: 'trusted' });
    sources.push(source);
    expect(await validateAndRun(findTool(source, 'vault__secret'), { name: 'Ada' })).toBe('hello Ada, the secret is 42');

    // The access token expires: the next request meets a 401 and the refresh token renews it, without a person.
    fixture.expireAccessTokens();
    const refreshesBefore = fixture.log.tokenRequests.filter((request) => request.grantType === 'refresh_token').length;
    expect(await validateAndRun(findTool(source, 'vault__secret'), { name: 'Bob' })).toBe('hello Bob, the secret is 42');
    const refreshes = fixture.log.tokenRequests.filter((request) => request.grantType === 'refresh_token');
    expect(refreshes).toHaveLength(refreshesBefore + 1);
    expect(refreshes.at(-1)?.resource).toBe(fixture.mcpUrl);
    const renewed = new McpTokenStore({ directory, serverName: 'vault', serverUrl: fixture.mcpUrl }).read();
    expect(renewed.tokens?.access_token).not.toBe(saved.tokens?.access_token);
    expect(renewed.tokens?.refresh_token).toBe(saved.tokens?.refresh_token);
  });

  it('tells a service without tokens to run keel mcp login, without registering a client', async () => {
    const directory = freshDirectory();
    const registrations = fixture.log.registrations.length;
    const error = await caught(() => connectMcpServer({ name: 'vault', transport: { kind: 'http', url: fixture.mcpUrl, auth: { kind: 'oauth', tokenDirectory: directory } } }));
    expect(isKeelError(error, 'missing-credentials')).toBe(true);
    expect((error as KeelError).message).toContain('keel mcp login vault');
    expect(fixture.log.registrations).toHaveLength(registrations);
  });

  it('asks a person for a wider scope when a tool call gets 403 insufficient_scope (step-up)', async () => {
    const directory = freshDirectory();
    const loopback = await loopbackAuthorization({ open: browser });
    try {
      const source = await connectMcpServer({
        name: 'vault',
        transport: { kind: 'http', url: fixture.mcpUrl, auth: { kind: 'oauth', tokenDirectory: directory, authorize: loopback.authorize, redirectPort: loopback.port } },
        trust: 'trusted',
      });
      sources.push(source);
      fixture.requireToolScope('vault:read');
      expect(await validateAndRun(findTool(source, 'vault__secret'), { name: 'Cy' })).toBe('hello Cy, the secret is 42');
      expect(fixture.log.authorizations.at(-1)?.scope).toBe('mcp:tools vault:read');
    } finally {
      fixture.requireToolScope(null);
      await loopback.close();
    }
  });

  it('authenticates a service with client credentials', async () => {
    const before = fixture.log.tokenRequests.length;
    const source = await connectMcpServer({
      name: 'vault',
      transport: { kind: 'http', url: fixture.mcpUrl, auth: { kind: 'client-credentials', clientId: serviceCredentials.id, clientSecret: serviceCredentials.secret, expectedIssuer: fixture.issuer } },
      trust: 'trusted',
    });
    sources.push(source);
    expect(await validateAndRun(findTool(source, 'vault__secret'), { name: 'svc' })).toBe('hello svc, the secret is 42');
    const requests = fixture.log.tokenRequests.slice(before);
    expect(requests.map((request) => request.grantType)).toEqual(['client_credentials']);
    expect(requests[0]?.basicClient).toBe(serviceCredentials.id);
    expect(requests[0]?.resource).toBe(fixture.mcpUrl);
  });

  it('rejects wrong client credentials as missing-credentials naming the server', async () => {
    const error = await caught(() =>
      connectMcpServer({ name: 'vault', transport: { kind: 'http', url: fixture.mcpUrl, auth: { kind: 'client-credentials', clientId: serviceCredentials.id, clientSecret: 'wrong', expectedIssuer: fixture.issuer } } }),
    );
    expect(isKeelError(error, 'missing-credentials')).toBe(true);
    expect((error as KeelError).message).toContain('MCP server "vault"');
  });

  it('refuses an auth block that cannot work, at configuration time', async () => {
    const error = await caught(() => connectMcpServer({ name: 'vault', transport: { kind: 'http', url: fixture.mcpUrl, auth: { kind: 'oauth', clientMetadataUrl: 'http://example.com/meta.json' } } }));
    expect(isKeelError(error, 'invalid-config')).toBe(true);
    expect((error as KeelError).message).toContain('https');
  });
});
