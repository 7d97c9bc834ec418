import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { Action, CliContext } from './cli-context.ts';
import { chooseDatabase } from './cli-context.ts';

/*
 * Sessions on a Restate cluster: `keel restate serve` runs agents as a Restate endpoint, `keel restate register`
 * tells a cluster where it is. The SDK is loaded only when one of them runs.
 */

interface ServeFlags {
  readonly agents: readonly string[];
  readonly port?: string;
  readonly host?: string;
  readonly serviceName?: string;
  readonly register?: boolean;
  readonly identityKey?: readonly string[];
  readonly json?: boolean;
}

interface RegisterFlags {
  readonly adminUrl?: string;
  readonly force?: boolean;
}

export function registerRestateCommands(program: Command, context: CliContext, action: Action): void {
  const restate = program.command('restate').description('Run sessions on a Restate cluster: serve agents as a Restate endpoint, register it with the cluster');

  restate
    .command('serve')
    .description('Serve agents as a Restate endpoint (a virtual object per session; each model and tool call a durable step) until stopped')
    .requiredOption('--agents <modules...>', 'agent modules, each default-exporting defineAgent({...})')
    .option('--port <port>', 'port to listen on (default KEEL_RESTATE_PORT, else 9080; 0 picks a free one)')
    .option('--host <address>', 'address to listen on; the endpoint trusts its callers, keep it private', '127.0.0.1')
    .option('--service-name <name>', 'the virtual object\'s name in the cluster', 'KeelSession')
    .option('--register', 'register the endpoint with the cluster at KEEL_RESTATE_ADMIN_URL once it listens')
    .option('--identity-key <keys...>', "the cluster's request-identity public keys (publickeyv1_…): accept only requests it signed")
    .option('--json', 'print one JSON line when listening: {"url", "serviceName", "agents"}')
    .addHelpText('after', `
Start a session once the endpoint is registered (the session id is the object key):
  curl -X POST $KEEL_RESTATE_INGRESS_URL/KeelSession/ses_1/run/send -H 'content-type: application/json' \\
       -d '{"agent": "support", "task": "Where is order 1042?"}'
Approvals: \`keel approve <session> <call>\` with KEEL_RESTATE_INGRESS_URL set resolves the waiting call on Restate.

Environment:
  KEEL_RESTATE_PORT         the endpoint's port (default 9080)
  KEEL_RESTATE_ADMIN_URL    the cluster's admin API, for --register (default http://127.0.0.1:9070)
  KEEL_RESTATE_INGRESS_URL  the cluster's ingress, for starting sessions and approvals (default http://127.0.0.1:8080)`)
    .action(action(async (options: ServeFlags, command: Command) => serve(context, command, options)));

  restate
    .command('register')
    .description("Register a served endpoint with a Restate cluster (the admin API's POST /deployments)")
    .argument('<url>', 'where the cluster reaches the endpoint, e.g. http://127.0.0.1:9080')
    .option('--admin-url <url>', 'the cluster\'s admin API (default KEEL_RESTATE_ADMIN_URL, else http://127.0.0.1:9070)')
    .option('--force', 'replace an earlier registration of the same URL whose services changed')
    .action(action(async (url: string, options: RegisterFlags) => register(context, url, options)));
}

async function serve(context: CliContext, command: Command, options: ServeFlags): Promise<number> {
  const { registerDeployment, resolveRestateConfig, serveRestate } = await import('../restate/index.ts');
  // The runtime and the agent loader are imported here, not at the top: every other command's start stays light.
  const { createKeel } = await import('../runtime/index.ts');
  const { loadAgentModule } = await import('./load-agent.ts');
  const config = resolveRestateConfig(context.env, options.port === undefined ? {} : { port: portFlag(options.port) });
  const agents: AgentDefinition[] = [];
  const agentModules: Record<string, string> = {};
  for (const path of options.agents) {
    const { agent, modulePath } = await loadAgentModule(path, context.cwd);
    agents.push(agent);
    agentModules[agent.name] = modulePath;
  }
  const database = chooseDatabase(context, command);
  const keel = createKeel({ database: database.path, env: context.env, cwd: context.cwd });
  try {
    const server = await serveRestate({ agents, keel, port: config.port, host: options.host ?? '127.0.0.1', agentModules, ...(options.serviceName === undefined ? {} : { serviceName: options.serviceName }), ...(options.identityKey === undefined ? {} : { identityKeys: options.identityKey }) });
    const stopped = stopSignal();
    try {
      if (options.register === true) {
        const services = await registerDeployment({ adminUrl: config.adminUrl, endpointUrl: server.url, force: true });
        context.err(`keel: registered ${server.url} with ${config.adminUrl} (services: ${services.join(', ')})`);
      }
      if (options.json === true) context.out(JSON.stringify({ url: server.url, serviceName: server.serviceName, agents: agents.map((agent) => agent.name) }));
      else {
        context.out(`Serving ${agents.map((agent) => agent.name).join(', ')} as Restate service ${server.serviceName} at ${server.url} (journal ${database.path}).`);
        if (options.register !== true) context.out(`Register it with the cluster: ${context.prefix} restate register ${server.url}`);
      }
      await stopped.promise;
    } finally {
      stopped.dispose();
      await server.close();
    }
  } finally {
    await keel.close();
  }
  return 0;
}

async function register(context: CliContext, url: string, options: RegisterFlags): Promise<number> {
  const { registerDeployment, resolveRestateConfig } = await import('../restate/index.ts');
  const config = resolveRestateConfig(context.env, options.adminUrl === undefined ? {} : { adminUrl: options.adminUrl });
  const services = await registerDeployment({ adminUrl: config.adminUrl, endpointUrl: url, force: options.force === true });
  context.out(`Registered ${url} with ${config.adminUrl}: ${services.join(', ')}`);
  return 0;
}

function portFlag(value: string): number {
  if (!/^\d{1,5}$/.test(value)) throw new KeelError('invalid-argument', `--port must be a port number from 0 to 65535, got "${value.slice(0, 50)}".`);
  return Number(value);
}

/** Resolves at SIGINT or SIGTERM: the endpoint stops serving and closes the database cleanly. */
function stopSignal(): { readonly promise: Promise<void>; dispose(): void } {
  let stop!: () => void;
  const promise = new Promise<void>((resolve) => {
    stop = resolve;
  });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    promise,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

/** A decision as `keel approve` / `keel reject` send it. */
export interface RestateDecision {
  readonly sessionId: string;
  readonly callId: string;
  readonly approved: boolean;
  readonly approver: string;
  readonly reason?: string;
  readonly editedInput?: unknown;
}

/**
 * With KEEL_RESTATE_INGRESS_URL set, `keel approve` and `keel reject` first offer the decision to the session's Restate
 * object: when the call waits there, its awakeable is resolved and the session continues on the cluster. Returns the
 * exit code then, or null when Restate does not run the session (it waits for nothing there): the caller decides in process.
 */
export async function decideOnRestate(context: CliContext, decision: RestateDecision, json: boolean): Promise<number | null> {
  const { approveOnRestate, resolveRestateConfig } = await import('../restate/index.ts');
  const config = resolveRestateConfig(context.env);
  const { sessionId, callId, ...answer } = decision;
  let reply;
  try {
    reply = await approveOnRestate({ ingressUrl: config.ingressUrl, serviceName: config.serviceName, sessionId }, { callId, ...answer });
  } catch (error) {
    // The cluster serves no Keel sessions under that name: the session is not Restate's.
    if (error instanceof KeelError && error.code === 'session-not-found') return null;
    throw error;
  }
  if (!reply.handled) {
    if (reply.waiting.length === 0) return null;
    throw new KeelError('approval-not-pending', `Call ${callId} of session ${sessionId} is not waiting for approval on Restate; calls waiting: ${reply.waiting.join(', ')}.`, { details: { sessionId, callId, waiting: reply.waiting } });
  }
  const verb = decision.approved ? 'Approved' : 'Rejected';
  if (json) context.out(JSON.stringify({ sessionId, callId, approved: decision.approved, approver: decision.approver, runsOn: 'restate', stillWaiting: reply.waiting }));
  else context.out(`${verb} call ${callId} of session ${sessionId} on Restate (${config.ingressUrl}); the session continues on the cluster.${reply.waiting.length === 0 ? '' : ` Still waiting: ${reply.waiting.join(', ')}.`}`);
  return 0;
}
