import { KeelError } from '../errors/index.ts';
import { ElicitationInbox, type ElicitationAnswer, type ElicitationItem } from '../tools/mcp/capabilities/elicitation-inbox.ts';
import { loginMcpServer } from '../tools/mcp/auth/mcp-login.ts';
import { defaultTokenDirectory, McpTokenStore } from '../tools/mcp/auth/mcp-token-store.ts';
import type { CliContext } from './cli-context.ts';
import type { AnswerFlags, LoginFlags } from './mcp-commands.ts';

export async function runMcpLogin(context: CliContext, server: string, flags: LoginFlags): Promise<number> {
  const timeoutSeconds = Number(flags.timeout);
  if (!(timeoutSeconds > 0)) throw new KeelError('invalid-argument', `--timeout must be a positive number of seconds, got "${flags.timeout}".`);
  const port = flags.port === undefined ? undefined : Number(flags.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) throw new KeelError('invalid-argument', `--port must be a port number, got "${flags.port ?? ''}".`);
  const clientSecret = flags.clientSecretEnv === undefined ? undefined : context.env[flags.clientSecretEnv];
  if (flags.clientSecretEnv !== undefined && (clientSecret === undefined || clientSecret === '')) {
    throw new KeelError('missing-credentials', `--client-secret-env names ${flags.clientSecretEnv}, which is not set.`);
  }
  const tokenDirectory = flags.tokenDir ?? defaultTokenDirectory(context.env);
  const result = await loginMcpServer({
    name: server,
    url: flags.url,
    auth: {
      tokenDirectory,
      ...(flags.scope === undefined ? {} : { scope: flags.scope }),
      ...(flags.clientId === undefined ? {} : { clientId: flags.clientId }),
      ...(clientSecret === undefined ? {} : { clientSecret }),
      ...(flags.clientMetadataUrl === undefined ? {} : { clientMetadataUrl: flags.clientMetadataUrl }),
    },
    ...(port === undefined ? {} : { port }),
    timeoutMs: timeoutSeconds * 1000,
    open: (url) => {
      context.out(`Open this URL in a browser to authorize Keel for MCP server "${server}":`);
      context.out('');
      context.out(`  ${url.toString()}`);
      context.out('');
      context.out(`Waiting up to ${timeoutSeconds} s for the authorization server to redirect back to ${new URL(url.searchParams.get('redirect_uri') ?? 'http://127.0.0.1/').origin} …`);
    },
  });
  if (result.status === 'not-required') {
    context.out(`MCP server "${server}" at ${flags.url} answered without asking for authorization; nothing to store.`);
    return 0;
  }
  const expires = result.expiresAt === undefined ? '' : `, access token valid until ${new Date(result.expiresAt).toISOString()} (renewed automatically while a refresh token is held)`;
  context.out(`Authorized${result.scope === undefined ? '' : ` (scope: ${result.scope})`}${expires}. Tokens saved to ${result.tokenFile} (mode 0600).`);
  return 0;
}

export function runMcpLogout(context: CliContext, server: string, flags: { url: string; tokenDir?: string }): number {
  const store = new McpTokenStore({ directory: flags.tokenDir ?? defaultTokenDirectory(context.env), serverName: server, serverUrl: flags.url });
  context.out(store.remove() ? `Forgot the credentials of MCP server "${server}" (${store.path}).` : `No credentials stored for MCP server "${server}" (${store.path}).`);
  return 0;
}

export function runMcpRequests(context: CliContext, options: { directory: string; all: boolean; json: boolean }): number {
  const inbox = new ElicitationInbox(options.directory);
  const items = inbox.list(options.all ? {} : { status: 'pending' });
  if (options.json) {
    context.out(JSON.stringify(items, null, 2));
    return 0;
  }
  if (items.length === 0) {
    context.out(options.all ? `No MCP input requests in ${options.directory}.` : `No pending MCP input requests in ${options.directory}.`);
    return 0;
  }
  for (const item of items) {
    context.out(`${item.id}  ${item.status}  server ${item.server}${item.tool === undefined ? '' : `, tool ${item.tool}`}${item.sessionId === undefined ? '' : `, session ${item.sessionId}`}  ${new Date(item.createdAt).toISOString()}`);
    context.out(`  ${printable(item.message)}`);
    for (const line of describeFields(item)) context.out(`    ${line}`);
    if (item.answer !== undefined) context.out(`  answered ${item.answer.action} by ${item.answeredBy ?? 'unknown'}`);
  }
  return 0;
}

export function runMcpAnswer(context: CliContext, id: string, flags: AnswerFlags & { directory: string }): number {
  const actions = [flags.decline === true, flags.cancel === true, flags.accept === true || flags.set !== undefined || flags.values !== undefined].filter(Boolean).length;
  if (actions !== 1) throw new KeelError('invalid-argument', 'Give exactly one of --set/--values/--accept (accept), --decline or --cancel.');
  const inbox = new ElicitationInbox(flags.directory);
  const item = inbox.get(id);
  if (item === null) throw new KeelError('invalid-argument', `No MCP input request "${id}" in ${flags.directory}; \`keel mcp requests\` lists the pending ones.`);
  let answer: ElicitationAnswer;
  if (flags.decline === true) answer = { action: 'decline' };
  else if (flags.cancel === true) answer = { action: 'cancel' };
  else answer = { action: 'accept', content: acceptedValues(item, flags) };
  inbox.answer(id, answer, flags.by);
  context.out(`Answered ${id} (${answer.action}); the agent waiting on it continues, or picks the answer up when its call runs again.`);
  return 0;
}

type FormValue = string | number | boolean | readonly string[];

function acceptedValues(item: ElicitationItem, flags: AnswerFlags): Record<string, FormValue> {
  const values: Record<string, FormValue> = {};
  if (flags.values !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.values);
    } catch (error) {
      throw new KeelError('invalid-argument', `--values is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new KeelError('invalid-argument', '--values must be a JSON object of field values.');
    Object.assign(values, parsed);
  }
  const properties = (item.requestedSchema.properties ?? {}) as Record<string, { type?: string }>;
  for (const assignment of flags.set ?? []) {
    const index = assignment.indexOf('=');
    if (index <= 0) throw new KeelError('invalid-argument', `--set expects field=value, got "${assignment}".`);
    const field = assignment.slice(0, index);
    values[field] = coerce(assignment.slice(index + 1), properties[field]?.type);
  }
  return values;
}

/** Text from the command line as the type the form declares; anything that does not convert stays text for the schema check to name. */
function coerce(text: string, type: string | undefined): FormValue {
  if ((type === 'number' || type === 'integer') && text.trim() !== '' && Number.isFinite(Number(text))) return Number(text);
  if (type === 'boolean' && (text === 'true' || text === 'false')) return text === 'true';
  if (type === 'array') return text === '' ? [] : text.split(',').map((part) => part.trim());
  return text;
}

function describeFields(item: ElicitationItem): string[] {
  const properties = (item.requestedSchema.properties ?? {}) as Record<string, { type?: string; title?: string; description?: string; enum?: unknown[]; default?: unknown }>;
  const required = new Set((item.requestedSchema.required ?? []) as string[]);
  return Object.entries(properties).map(([name, field]) => {
    const choices = Array.isArray(field.enum) ? ` one of ${field.enum.map((value) => JSON.stringify(value)).join(', ')}` : '';
    const fallback = field.default === undefined ? '' : `, default ${JSON.stringify(field.default)}`;
    const about = field.description ?? field.title;
    return `${name} (${field.type ?? 'any'}${required.has(name) ? ', required' : ''}${fallback})${choices}${about === undefined ? '' : `: ${printable(about)}`}`;
  });
}

/** A server's text on a person's terminal: control characters (escape sequences) shown as spaces, length capped. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return clean.length > 500 ? `${clean.slice(0, 500)}…` : clean;
}
