import { createServer } from 'node:http2';
import type { Http2ServerRequest, Http2ServerResponse, Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import { defaultServiceName } from './restate-client.ts';
import { resolveRestateConfig } from './restate-config.ts';
import { createSessionObject } from './session-object.ts';
import type { RestateSdk } from './session-object.ts';

export interface RestateEndpointOptions {
  /** The agents this endpoint runs; a session names its agent in the `run` request. Names must differ. */
  readonly agents: AgentDefinition | readonly AgentDefinition[];
  /** The runtime whose journal, stores, models and tool pipeline the sessions use. */
  readonly keel: Keel;
  /** The virtual object's name in the cluster; default `KeelSession`. */
  readonly serviceName?: string;
  /** The module of each agent by name (one that default-exports it), recorded in its sessions so that the CLI can load it. */
  readonly agentModules?: Readonly<Record<string, string>>;
  /**
   * The cluster's request-identity public keys (`publickeyv1_…`): with them the endpoint accepts only requests the
   * cluster signed. Without them it trusts whoever can reach it, so keep it on a private address.
   */
  readonly identityKeys?: readonly string[];
}

/** A Restate endpoint that runs Keel sessions: mount `handler` on an HTTP/2 server, or use `serveRestate`. */
export interface RestateEndpoint {
  readonly handler: (request: Http2ServerRequest, response: Http2ServerResponse) => void;
  readonly serviceName: string;
  readonly agents: readonly string[];
}

/**
 * The Restate endpoint of a set of agents: a virtual object (default `KeelSession`) keyed by session id, whose `run`
 * handler drives the session with each model and tool call a durable step, `approve` resolves a waiting call, and
 * `pending` lists the calls that wait.
 * @example
 * ```ts
 * const keel = createKeel({ database: '.keel/keel.db' });
 * const endpoint = await createRestateEndpoint({ agents: [support], keel });
 * http2.createServer(endpoint.handler).listen(9080, '127.0.0.1');
 * ```
 */
export async function createRestateEndpoint(options: RestateEndpointOptions): Promise<RestateEndpoint> {
  const list = Array.isArray(options.agents) ? (options.agents as readonly AgentDefinition[]) : [options.agents as AgentDefinition];
  if (list.length === 0) throw new KeelError('invalid-config', 'A Restate endpoint needs at least one agent.');
  const agents = new Map<string, AgentDefinition>();
  for (const agent of list) {
    if (agents.has(agent.name)) throw new KeelError('invalid-config', `Two agents of this endpoint are named "${agent.name}": a session names its agent, so names must differ.`);
    agents.set(agent.name, agent);
  }
  const serviceName = options.serviceName ?? defaultServiceName;
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,99}$/.test(serviceName)) {
    throw new KeelError('invalid-config', `The Restate service name "${serviceName.slice(0, 120)}" must start with a letter or underscore and hold only letters, digits, "_", "." and "-".`);
  }
  const sdk = await loadRestateSdk();
  const session = createSessionObject(sdk, { keel: options.keel, agents, serviceName, ...(options.agentModules === undefined ? {} : { agentModules: options.agentModules }) });
  const handler = sdk.createEndpointHandler({ services: [session], ...(options.identityKeys === undefined ? {} : { identityKeys: [...options.identityKeys] }) }) as (request: Http2ServerRequest, response: Http2ServerResponse) => void;
  return { handler, serviceName, agents: [...agents.keys()] };
}

export interface ServeRestateOptions extends RestateEndpointOptions {
  /** Default `KEEL_RESTATE_PORT`, else 9080; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1: the endpoint trusts whoever calls it, so it is not exposed unless asked. */
  readonly host?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A served endpoint: register `url` with the cluster (`keel restate register`, or the admin API). */
export interface RestateServer {
  readonly port: number;
  readonly url: string;
  readonly serviceName: string;
  close(): Promise<void>;
}

/**
 * Serves the agents' Restate endpoint over HTTP/2 (what the cluster speaks to endpoints).
 * @example
 * ```ts
 * const server = await serveRestate({ agents: [support], keel, port: 9080 });
 * // curl -X POST http://127.0.0.1:9070/deployments -H 'content-type: application/json' -d '{"uri": "http://127.0.0.1:9080"}'
 * await server.close();
 * ```
 */
export async function serveRestate(options: ServeRestateOptions): Promise<RestateServer> {
  const endpoint = await createRestateEndpoint(options);
  const port = options.port ?? resolveRestateConfig(options.env ?? process.env).port;
  const host = options.host ?? '127.0.0.1';
  const server = createServer(endpoint.handler);
  const sessions = new Set<Http2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new KeelError('invalid-config', `Port ${port} on ${host} is in use; choose another with --port or KEEL_RESTATE_PORT.`, { cause: error }) : error);
    });
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    port: bound,
    url: `http://${shownHost}:${bound}`,
    serviceName: endpoint.serviceName,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        // Restate keeps HTTP/2 sessions open; close() alone would wait for the cluster to hang up.
        for (const session of sessions) session.destroy();
      }),
  };
}

/**
 * The SDK, loaded on first use rather than with Keel: it takes most of a second. On Node 20 it needs
 * Promise.withResolvers, which the polyfill adds first.
 */
async function loadRestateSdk(): Promise<RestateSdk> {
  await import('./with-resolvers.ts');
  return import('@restatedev/restate-sdk');
}
