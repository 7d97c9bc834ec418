import type { ServerOptions } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { ServerType } from '@hono/node-server';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { requestId } from 'hono/request-id';
import type * as PinoModule from 'pino';
import type { Logger } from 'pino';
import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import { checkTokenBucketLimit } from '../security/token-bucket.ts';
import type { TokenBucketLimit } from '../security/token-bucket.ts';
import { createId } from '../util/index.ts';
import { prometheusContentType } from '../tracing/prometheus-content-type.ts';
import { registerAccessRoutes } from './access-routes.ts';
import { ApiProblem } from './api-problem.ts';
import type { ApiKeyStore } from './api-keys.ts';
import { guardRequestBodies } from './body-guard.ts';
import { authenticate, errorResponse, logRequests, rateLimitPerKey } from './http-guards.ts';
import { registerInspectRoutes } from './inspect-routes.ts';
import { registerPlanRoutes } from './plan-routes.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';
import { openServerTables } from './server-database.ts';
import type { ServerDatabaseTarget, ServerTables } from './server-database.ts';
import { SessionHub } from './session-hub.ts';
import type { SessionQueue, SessionQueueListener } from './session-queue.ts';
import type { StreamLimitOptions } from './stream-limits.ts';
import { registerSessionRoutes } from './session-routes.ts';
import { createConsoleHandler, defaultConsoleFolder } from './static-console.ts';

export interface KeelServerOptions {
  /** The runtime the API drives; its database also holds the server's keys and session owners. */
  readonly keel: Keel;
  /**
   * Where the server's own tables (API keys, the tenant of each session) live when the runtime's journal is not in a
   * SQLite file: `{ url }` of the runtime's PostgreSQL storage (every server process on it then shares keys and
   * sessions), or a SQLite file. By default they share the journal's SQLite file; a runtime without one keeps them in
   * memory (keys then last as long as the process), which a server with a `queue` refuses.
   */
  readonly serverDatabase?: ServerDatabaseTarget;
  /**
   * The workers' run queue (`createRunQueue` on the runtime's PostgreSQL database): POST /v1/sessions enqueues
   * sessions for `keel worker` processes instead of running them here (unless a request asks for `"mode": "in-process"`),
   * and every other route follows a queued session wherever a worker runs it: status from the journal and the queue,
   * events announced by workers, approvals recorded and woken, cancels sent to the worker that holds the session.
   */
  readonly queue?: SessionQueue;
  /** The agents sessions can be started with, by name. */
  readonly agents: readonly AgentDefinition[];
  /** Structured JSON logs; a pino logger to stdout when not given. Keys and authorization headers are redacted. */
  readonly logger?: Logger;
  /** The console's built files; `dist/console` under the package by default; null serves no console. */
  readonly consoleFolder?: string | null;
  /** Requests per key: a burst of `capacity`, then `refillPerSecond` (default 120 and 20); `false` turns it off. */
  readonly rateLimit?: TokenBucketLimit | false;
  /** Largest request body in bytes (default 1 MiB); larger bodies are refused with 413. */
  readonly maxBodyBytes?: number;
  /** Limits on the sockets `listen()` accepts, against clients that hold connections open without finishing requests. */
  readonly connections?: ConnectionLimits;
  /** Caps on concurrent event streams per key and per tenant (default 32 and 256); one more is refused with 429. */
  readonly streams?: StreamLimitOptions;
  /** Quiet time before an event stream sends a keep-alive comment (default 15 s). */
  readonly keepAliveMs?: number;
  /** How often a stream reads the journal of a session another process runs (default 1 s). */
  readonly pollMs?: number;
  /** Where counterfactual model calls find provider credentials; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly now?: () => number;
}

/** Socket limits of the listening server; each has a default, so pass only what you change. */
export interface ConnectionLimits {
  /** Open sockets at most (default 10,000); further ones are closed as they arrive. */
  readonly maxConnections?: number;
  /** Time a client has to send all request headers (default 10 s); a slower one gets 408 and is closed. */
  readonly headersTimeoutMs?: number;
  /** Time a client has to send the whole request, body included (default 30 s); an event stream's response is not limited. */
  readonly requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open between requests (default 5 s). */
  readonly keepAliveTimeoutMs?: number;
}

export interface KeelServer {
  /** The Hono application: `app.fetch(request)` answers without a socket. */
  readonly app: OpenAPIHono<ServerEnv>;
  /** API keys: create, list, revoke. */
  readonly keys: ApiKeyStore;
  /** Creates an admin key of tenant `default` when no admin key exists yet; the key is returned once, else null. */
  ensureAdminKey(): Promise<string | null>;
  /** Listens on `host:port` (port 0 picks a free one); resolves with the URL. */
  listen(options?: { readonly port?: number; readonly host?: string }): Promise<{ readonly url: string; readonly port: number }>;
  /** Sessions running here, and open event streams. */
  stats(): { readonly runningSessions: number; readonly openStreams: number };
  /** Stops accepting requests, closes event streams, cancels the sessions running here (they end `cancelled`). */
  close(): Promise<void>;
}

const redactedPaths = ['authorization', 'key', 'apiKey', '*.authorization', '*.key', '*.apiKey', 'req.headers.authorization', 'headers.authorization', 'req.headers.cookie'];

/** pino (CommonJS) and its transports load with the first logger a server creates, not with `import 'keel'`. */
let pinoModule: typeof PinoModule | undefined;

/** A pino logger with Keel's redaction of keys and authorization headers. */
export function createServerLogger(destination?: NodeJS.WritableStream): Logger {
  pinoModule ??= createRequire(import.meta.url)('pino') as typeof PinoModule;
  const { pino } = pinoModule;
  const options = { name: 'keel-server', redact: { paths: redactedPaths, censor: '[redacted]' } };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * The Keel HTTP API (under `/v1`, described by `/v1/openapi.json`), `/healthz`, `/readyz`, `/metrics`, and the console.
 * @example
 * ```ts
 * const keel = createKeel({ database: '.keel/keel.db' });
 * const server = createKeelServer({ keel, agents: [support] });
 * const adminKey = await server.ensureAdminKey(); // printed once; null when an admin key already exists
 * const { url } = await server.listen({ port: 8787 });
 * ```
 */
export function createKeelServer(options: KeelServerOptions): KeelServer {
  const { keel } = options;
  const now = options.now ?? Date.now;
  const logger = options.logger ?? createServerLogger();
  const agents = agentMap(options.agents);
  const queue = options.queue ?? null;
  if (queue !== null && options.serverDatabase === undefined && keel.databasePath === null) {
    throw new KeelError('invalid-config', 'A server with a run queue keeps its API keys and session owners where every server and worker process sees them: pass serverDatabase: { url } (the PostgreSQL database of the runtime\'s storage).');
  }
  const tables: ServerTables = openServerTables(options.serverDatabase, keel.databasePath, now);
  const hub = new SessionHub(options.streams === undefined ? {} : { streams: options.streams });
  const { owners, keys } = tables;
  const context: ServerContext = {
    keel,
    agents,
    hub,
    owners,
    keys,
    views: { journal: keel.journal, hub, owners, leases: tables.leases, queue, now },
    queue,
    defaultMode: queue === null ? 'in-process' : 'queue',
    serverId: `keel-server:${createId('srv', now())}`,
    logger,
    now,
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    keepAliveMs: positive(options.keepAliveMs ?? 15_000, 'keepAliveMs'),
    pollMs: positive(options.pollMs ?? 1_000, 'pollMs'),
  };
  const limits = connectionLimits(options.connections ?? {});
  let closing = false;
  const app = buildApp({ context, options, isClosing: () => closing, tables });
  let server: ServerType | null = null;
  let openStreams = 0;
  // Workers announce the events they journal: the streams of those sessions read them at once instead of at their next poll.
  let listening: Promise<SessionQueueListener | null> | undefined;
  const listenToWorkers = (): Promise<SessionQueueListener | null> =>
    (listening ??= queue === null
      ? Promise.resolve(null)
      : queue.subscribe({ onSessionEvents: (sessionId) => hub.notify(sessionId) }).catch((error: unknown) => {
          logger.warn({ err: error }, 'cannot LISTEN for session events of workers; event streams of queued sessions poll the journal');
          return null;
        }));

  return {
    app,
    keys,
    async ensureAdminKey() {
      if ((await keys.countAdmins()) > 0) return null;
      return (await keys.create({ name: 'first admin', tenant: 'default', roles: ['admin'], createdBy: null })).key;
    },
    async listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      await listenToWorkers();
      // The Node adapter is needed only by a server that listens on a socket; `app.fetch` works without it.
      const { createAdaptorServer } = await import('@hono/node-server');
      const created = createAdaptorServer({ fetch: app.fetch, serverOptions: nodeServerOptions(limits) });
      created.maxConnections = limits.maxConnections;
      if ('keepAliveTimeout' in created) created.keepAliveTimeout = limits.keepAliveTimeoutMs;
      created.on('request', (_request, response) => {
        if (!String(response.req.url ?? '').includes('/events')) return;
        openStreams += 1;
        response.once('close', () => (openStreams -= 1));
      });
      await new Promise<void>((resolve, reject) => {
        created.once('error', (error: NodeJS.ErrnoException) => reject(new KeelError('invalid-config', `Cannot listen on ${host}:${listenOptions.port ?? 0}: ${error.code === 'EADDRINUSE' ? 'the port is in use; choose another with --port' : error.message}.`, { cause: error })));
        created.listen(listenOptions.port ?? 0, host, () => resolve());
      });
      server = created;
      const { port } = created.address() as AddressInfo;
      const shown = host.includes(':') ? `[${host}]` : host;
      return { url: `http://${shown}:${port}`, port };
    },
    stats: () => ({ runningSessions: hub.activeCount(), openStreams }),
    async close() {
      closing = true;
      const listening = server;
      if (listening !== null) {
        const closed = new Promise<void>((resolve) => listening.close(() => resolve()));
        if ('closeAllConnections' in listening) listening.closeAllConnections();
        await closed;
      }
      await hub.cancelAll('The server is shutting down.');
      await (await listening)?.close();
      await tables.close();
    },
  };
}

function buildApp(parts: { context: ServerContext; options: KeelServerOptions; isClosing: () => boolean; tables: ServerTables }): OpenAPIHono<ServerEnv> {
  const { context, options } = parts;
  const app = new OpenAPIHono<ServerEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.slice(0, 10).map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`);
        throw new ApiProblem({ status: 400, code: 'invalid-request', message: `The request does not match the API: ${issues.join('; ')}.`, details: { issues: issues } });
      }
      return undefined;
    },
  });
  app.use(requestId({ limitLength: 100 }));
  app.use(logRequests(context.logger, context.now));
  app.onError((error, c) => errorResponse(error, c, context.logger));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    if (parts.isClosing()) return c.json({ status: 'shutting-down' }, 503);
    try {
      await parts.tables.ping();
      await context.keel.journal.lastSeq('ses_readiness_probe');
      return c.json({ status: 'ready', runningSessions: context.hub.activeCount() });
    } catch (error) {
      return c.json({ status: 'unavailable', reason: error instanceof Error ? error.message : String(error) }, 503);
    }
  });
  app.get('/metrics', async (c) => {
    const metrics = await context.keel.metrics();
    if (metrics === null) return c.text('Metrics are off for this runtime (createKeel({ metrics: false })).\n', 404);
    return c.body(await metrics.renderPrometheus(), 200, { 'content-type': prometheusContentType, 'cache-control': 'no-store' });
  });

  const maxSize = options.maxBodyBytes ?? 1024 * 1024;
  app.use('/v1/*', bodyLimit({ maxSize, onError: () => { throw new ApiProblem({ status: 413, code: 'payload-too-large', message: `The request body is over ${maxSize} bytes.` }); } }));
  app.use('/v1/*', authenticate(context.keys));
  if (options.rateLimit !== false) app.use('/v1/*', rateLimitPerKey(checkTokenBucketLimit(options.rateLimit ?? { capacity: 120, refillPerSecond: 20 }, 'rateLimit'), context.now));
  app.use('/v1/*', guardRequestBodies());

  registerAccessRoutes(app, context);
  registerSessionRoutes(app, context);
  registerInspectRoutes(app, context);
  registerPlanRoutes(app, context);
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An API key: keel_<id>_<secret>.' });
  app.doc31('/v1/openapi.json', { openapi: '3.1.0', info: { title: 'Keel API', version: '1', description: 'Sessions, event streams, approvals and inspection of a Keel runtime.' } });

  const serveConsole = createConsoleHandler(options.consoleFolder === undefined ? defaultConsoleFolder() : options.consoleFolder);
  app.notFound((c) => {
    if (c.req.path === '/v1' || c.req.path.startsWith('/v1/')) throw new ApiProblem({ status: 404, code: 'not-found', message: `No route ${c.req.method} ${c.req.path}; the routes are listed in /v1/openapi.json.` });
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new ApiProblem({ status: 404, code: 'not-found', message: `No route ${c.req.method} ${c.req.path}.` });
    return serveConsole(c);
  });
  return app;
}

function agentMap(agents: readonly AgentDefinition[]): ReadonlyMap<string, AgentDefinition> {
  const map = new Map<string, AgentDefinition>();
  for (const agent of agents) {
    if (map.has(agent.name)) throw new KeelError('invalid-config', `Two agents are named "${agent.name}"; agent names must be unique on a server.`);
    map.set(agent.name, agent);
  }
  return map;
}

function connectionLimits(given: ConnectionLimits): Required<ConnectionLimits> {
  const limits = {
    maxConnections: given.maxConnections ?? 10_000,
    headersTimeoutMs: positive(given.headersTimeoutMs ?? 10_000, 'connections.headersTimeoutMs'),
    requestTimeoutMs: positive(given.requestTimeoutMs ?? 30_000, 'connections.requestTimeoutMs'),
    keepAliveTimeoutMs: positive(given.keepAliveTimeoutMs ?? 5_000, 'connections.keepAliveTimeoutMs'),
  };
  if (!(Number.isInteger(limits.maxConnections) && limits.maxConnections > 0)) throw new KeelError('invalid-config', `connections.maxConnections must be a positive integer, got ${limits.maxConnections}.`);
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) throw new KeelError('invalid-config', `connections.headersTimeoutMs (${limits.headersTimeoutMs}) must not exceed connections.requestTimeoutMs (${limits.requestTimeoutMs}).`);
  return limits;
}

/** Node checks the header and request timeouts on an interval; it must be shorter than the timeouts to enforce them. */
function nodeServerOptions(limits: Required<ConnectionLimits>): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
  };
}

function positive(value: number, name: string): number {
  if (!(Number.isFinite(value) && value > 0)) throw new KeelError('invalid-config', `${name} must be a positive number of milliseconds, got ${value}.`);
  return value;
}
