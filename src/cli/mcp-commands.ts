import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Action, CliContext } from './cli-context.ts';

/*
 * MCP servers from the command line: a person's OAuth login to a protected server, and the inbox of questions
 * servers asked through elicitation. The work is in mcp-command.ts, loaded when one of them runs.
 */

/** `KEEL_MCP_REQUESTS_DIR`, else `.keel/mcp-requests` under the working directory: the folder agents' inboxes use by default. */
export function requestsDirectory(context: CliContext, given: string | undefined): string {
  const named = given ?? context.env.KEEL_MCP_REQUESTS_DIR;
  return named === undefined || named.trim() === '' ? resolve(context.cwd, '.keel', 'mcp-requests') : resolve(context.cwd, named);
}

export function registerMcpCommands(program: Command, context: CliContext, action: Action): void {
  const mcp = program.command('mcp').description('MCP servers: log in to a protected server, answer the questions servers ask');

  mcp
    .command('login')
    .description('Authorize Keel for a protected MCP server (OAuth with PKCE): prints a URL, waits for the redirect on 127.0.0.1, saves the tokens (0600)')
    .argument('<server>', 'the server name agents configure it under (tokens are stored by it)')
    .requiredOption('--url <url>', "the server's MCP endpoint, e.g. https://mcp.example.com/mcp")
    .option('--scope <scope>', 'scope to ask for when the server names none')
    .option('--client-id <id>', 'a client registered with the authorization server in advance (no dynamic registration)')
    .option('--client-secret-env <variable>', 'environment variable holding that client’s secret')
    .option('--client-metadata-url <url>', 'an https URL serving this client’s metadata document, used as its client ID where supported')
    .option('--port <port>', 'loopback port for the redirect (default: the one used last time, else a free one)')
    .option('--token-dir <dir>', 'where tokens are kept (default KEEL_MCP_AUTH_DIR, else ~/.keel/mcp-auth)')
    .option('--timeout <seconds>', 'how long to wait for the redirect', '300')
    .action(action(async (server: string, options: LoginFlags) => {
      const { runMcpLogin } = await import('./mcp-command.ts');
      return runMcpLogin(context, server, options);
    }));

  mcp
    .command('logout')
    .description('Forget the tokens and registration stored for an MCP server')
    .argument('<server>', 'the server name')
    .requiredOption('--url <url>', "the server's MCP endpoint")
    .option('--token-dir <dir>', 'where tokens are kept (default KEEL_MCP_AUTH_DIR, else ~/.keel/mcp-auth)')
    .action(action(async (server: string, options: { url: string; tokenDir?: string }) => {
      const { runMcpLogout } = await import('./mcp-command.ts');
      return runMcpLogout(context, server, options);
    }));

  mcp
    .command('requests')
    .description('List the questions MCP servers asked a person (elicitation), pending first')
    .option('--dir <dir>', 'the inbox folder (default KEEL_MCP_REQUESTS_DIR, else .keel/mcp-requests)')
    .option('--all', 'also list answered questions')
    .option('--json', 'print the requests as JSON')
    .action(action(async (options: { dir?: string; all?: boolean; json?: boolean }) => {
      const { runMcpRequests } = await import('./mcp-command.ts');
      return runMcpRequests(context, { directory: requestsDirectory(context, options.dir), all: options.all === true, json: options.json === true });
    }));

  mcp
    .command('answer')
    .description("Answer a server's question: accept with values (checked against the form it asked for), decline, or cancel")
    .argument('<id>', 'the request id, from `keel mcp requests`')
    .option('--set <field=value...>', 'accept, with a value for a field (repeatable; lists are comma-separated)')
    .option('--values <json>', 'accept, with all values as one JSON object')
    .option('--accept', 'accept with no values (the server’s defaults apply)')
    .option('--decline', 'refuse to give the information')
    .option('--cancel', 'dismiss the question without a decision')
    .option('--by <name>', 'who answers, kept with the answer', process.env.USER ?? 'cli')
    .option('--dir <dir>', 'the inbox folder (default KEEL_MCP_REQUESTS_DIR, else .keel/mcp-requests)')
    .action(action(async (id: string, options: AnswerFlags) => {
      const { runMcpAnswer } = await import('./mcp-command.ts');
      return runMcpAnswer(context, id, { ...options, directory: requestsDirectory(context, options.dir) });
    }));
}

export interface LoginFlags {
  readonly url: string;
  readonly scope?: string;
  readonly clientId?: string;
  readonly clientSecretEnv?: string;
  readonly clientMetadataUrl?: string;
  readonly port?: string;
  readonly tokenDir?: string;
  readonly timeout: string;
}

export interface AnswerFlags {
  readonly set?: readonly string[];
  readonly values?: string;
  readonly accept?: boolean;
  readonly decline?: boolean;
  readonly cancel?: boolean;
  readonly by: string;
  readonly dir?: string;
}
