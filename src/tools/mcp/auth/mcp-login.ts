import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { KeelError } from '../../../errors/index.ts';
import { loadMcpSdk } from '../mcp-sdk.ts';
import type { McpAuthorizationHandler, McpOAuthConfig } from './mcp-auth-config.ts';
import { authorizeOnce } from './mcp-oauth-fetch.ts';
import { KeelOAuthProvider } from './mcp-oauth-provider.ts';
import { defaultTokenDirectory, McpTokenStore } from './mcp-token-store.ts';

export interface LoopbackAuthorization {
  /** The port the listener got on 127.0.0.1; the redirect URI is `http://127.0.0.1:<port>/callback`. */
  readonly port: number;
  /** Sends the person to the URL (through `open`) and resolves to the code of the redirect that carries its `state`. */
  readonly authorize: McpAuthorizationHandler;
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** 0 or absent: any free port. */
  readonly port?: number;
  /** Shows the person the URL (prints it, opens a browser). */
  readonly open: (authorizationUrl: URL) => void | Promise<void>;
  /** How long to wait for the redirect. Defaults to 5 minutes. */
  readonly timeoutMs?: number;
}

const page = (text: string): string => `<!doctype html><meta charset="utf-8"><title>Keel</title><p>${text}</p>`;

/**
 * A listener on 127.0.0.1 for the authorization server's redirect (the native-app pattern of RFC 8252): only
 * loopback, only `/callback`, only a redirect whose `state` matches the authorization it started.
 */
export async function loopbackAuthorization(options: LoopbackOptions): Promise<LoopbackAuthorization> {
  const waiting = new Map<string, { resolve: (code: string) => void; reject: (error: KeelError) => void }>();
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const state = url.searchParams.get('state') ?? '';
    const waiter = waiting.get(state);
    if (url.pathname !== '/callback' || waiter === undefined) {
      response.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end(page('Keel is not waiting for this authorization.'));
      return;
    }
    waiting.delete(state);
    const code = url.searchParams.get('code');
    if (code === null || code === '') {
      const reason = `${url.searchParams.get('error') ?? 'no code'}${url.searchParams.has('error_description') ? `: ${url.searchParams.get('error_description') ?? ''}` : ''}`;
      response.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Authorization failed; see the terminal.'));
      waiter.reject(new KeelError('missing-credentials', `The authorization server refused the authorization (${reason.slice(0, 500)}).`));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Keel is authorized. You can close this window.'));
    waiter.resolve(code);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new KeelError('invalid-config', `Could not listen on 127.0.0.1:${options.port ?? 0} for the authorization redirect: ${error.message}`, { cause: error })));
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const timeoutMs = options.timeoutMs ?? 300_000;
  return {
    port,
    authorize: async (authorizationUrl) => {
      const state = authorizationUrl.searchParams.get('state') ?? '';
      const code = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(state);
          reject(new KeelError('missing-credentials', `No authorization arrived within ${Math.round(timeoutMs / 1000)} s; run the login again and open the URL it prints.`));
        }, timeoutMs);
        timer.unref?.();
        waiting.set(state, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
      });
      await options.open(authorizationUrl);
      return code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface McpLoginOptions {
  /** The server's configured name: tokens are stored under it. */
  readonly name: string;
  readonly url: string;
  readonly auth?: Omit<McpOAuthConfig, 'kind' | 'authorize'>;
  readonly open: (authorizationUrl: URL) => void | Promise<void>;
  /** The loopback port; defaults to the one stored by the last login, else any free port. */
  readonly port?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export interface McpLoginResult {
  /** `not-required`: the server answered without asking for authorization. */
  readonly status: 'authorized' | 'not-required';
  readonly tokenFile: string;
  readonly scope?: string;
  readonly expiresAt?: number;
}

/**
 * A person's login to a protected MCP server: probes the server for its challenge, then runs the authorization
 * code flow with PKCE through a loopback redirect, and stores the tokens (0600) where connections find them.
 */
export async function loginMcpServer(options: McpLoginOptions): Promise<McpLoginResult> {
  const config: McpOAuthConfig = { kind: 'oauth', ...options.auth };
  const store = new McpTokenStore({ directory: config.tokenDirectory ?? defaultTokenDirectory(), serverName: options.name, serverUrl: options.url });
  const stored = store.read();
  const fetchFn = options.fetch ?? fetch;
  const { LATEST_PROTOCOL_VERSION, extractWWWAuthenticateParams } = await loadMcpSdk();
  const probe = await fetchFn(options.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'keel', version: '0.1.0' } } }),
  });
  await probe.body?.cancel().catch(() => undefined);
  if (probe.status !== 401 && probe.status !== 403) return { status: 'not-required', tokenFile: store.path };
  const challenge = extractWWWAuthenticateParams(probe);
  const loopback = await loopbackAuthorization({ port: options.port ?? stored.redirectPort ?? config.redirectPort ?? 0, open: options.open, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
  try {
    // A dynamic registration names its redirect URI; a login on another port registers again.
    if (stored.redirectPort !== loopback.port && config.clientId === undefined) store.update({ clientInformation: undefined });
    store.update({ redirectPort: loopback.port, tokens: undefined, tokensExpireAt: undefined });
    const provider = new KeelOAuthProvider({ serverName: options.name, config, store, authorize: loopback.authorize, redirectPort: loopback.port });
    await authorizeOnce({ serverName: options.name, serverUrl: new URL(options.url), provider }, (url, init) => fetchFn(url, init), challenge);
  } finally {
    await loopback.close();
  }
  const saved = store.read();
  return {
    status: 'authorized',
    tokenFile: store.path,
    ...(saved.tokens?.scope === undefined ? {} : { scope: saved.tokens.scope }),
    ...(saved.tokensExpireAt === undefined ? {} : { expiresAt: saved.tokensExpireAt }),
  };
}
