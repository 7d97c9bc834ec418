// The client the MCP conformance suite drives: `keel-client.ts <server-url>`, scenario in MCP_CONFORMANCE_SCENARIO,
// scenario data (pre-registered clients, client credentials) in MCP_CONFORMANCE_CONTEXT. It uses only Keel's public
// MCP client: connectMcpServer with the scenario's auth, then every listed tool called with arguments made from its
// schema. A person's part is played by code: the authorization URL is fetched (the suite's authorization server
// redirects at once to Keel's loopback listener), and elicitation questions are answered through the inbox, as
// `keel mcp answer` would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The MCP module of Keel's public API (what `keel` exports from its index), imported directly so the client loads
// only the MCP client and not the whole runtime.
import type { ToolContext } from '../../src/tools/define-tool.ts';
import { connectMcpServer, ElicitationInbox, loopbackAuthorization, type McpAuthConfig, type McpServerConfig } from '../../src/tools/mcp/index.ts';

const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const serverUrl = process.argv[2];
/** The URL the suite's authorization server accepts as a client ID metadata document. */
const clientMetadataUrl = 'https://conformance-test.local/client-metadata.json';

interface Context {
  readonly client_id?: string;
  readonly client_secret?: string;
  readonly private_key_pem?: string;
  readonly signing_algorithm?: string;
}

async function main(): Promise<void> {
  if (serverUrl === undefined) throw new Error('usage: keel-client.ts <server-url>');
  const scratch = mkdtempSync(join(tmpdir(), 'keel-conformance-client-'));
  const loopback = await loopbackAuthorization({
    open: async (url) => {
      // The browser's part: follow the authorization server's redirect to the loopback listener.
      await fetch(url);
    },
    timeoutMs: 10_000,
  });
  const inbox = new ElicitationInbox(join(scratch, 'requests'));
  const answering = answerQuestions(inbox);
  try {
    const config: McpServerConfig = {
      name: 'conformance',
      transport: { kind: 'http', url: serverUrl, ...authFor(scratch, loopback.authorize, loopback.port) },
      trust: 'trusted',
      timeoutMs: 20_000,
      elicitation: { inbox, pollMs: 20, waitMs: 10_000 },
      roots: [{ uri: `file://${scratch}`, name: 'scratch' }],
    };
    const source = await connectMcpServer(config);
    try {
      for (const tool of source.tools()) {
        const context: ToolContext = { sessionId: 'conformance', turn: 1, callId: tool.name, idempotencyKey: `conformance:${tool.name}`, signal: new AbortController().signal };
        await tool.execute(exampleInput(tool.inputSchema), context);
      }
    } finally {
      await source.close();
    }
  } finally {
    answering.stop();
    await loopback.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function authFor(scratch: string, authorize: (url: URL) => Promise<string>, port: number): { auth?: McpAuthConfig } {
  if (!scenario.startsWith('auth/')) return {};
  const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? '{}') as Context;
  if (scenario.startsWith('auth/client-credentials')) {
    return {
      auth: {
        kind: 'client-credentials',
        clientId: context.client_id ?? '',
        ...(context.private_key_pem === undefined ? { clientSecret: context.client_secret ?? '' } : { privateKey: context.private_key_pem, algorithm: context.signing_algorithm ?? 'ES256' }),
      },
    };
  }
  return {
    auth: {
      kind: 'oauth',
      clientName: 'keel-conformance',
      clientMetadataUrl,
      tokenDirectory: join(scratch, 'tokens'),
      authorize,
      redirectPort: port,
      ...(context.client_id === undefined ? {} : { clientId: context.client_id }),
      ...(context.client_secret === undefined ? {} : { clientSecret: context.client_secret }),
    },
  };
}

/** Accepts every question with an empty form: the fields the person leaves empty take the server's defaults. */
function answerQuestions(inbox: ElicitationInbox): { stop: () => void } {
  const timer = setInterval(() => {
    for (const item of inbox.list({ status: 'pending' })) inbox.answer(item.id, { action: 'accept', content: {} }, 'conformance-client');
  }, 20);
  return { stop: () => clearInterval(timer) };
}

/** A value for each required property, by type; enough for tools whose behaviour does not depend on the values. */
function exampleInput(schema: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const properties = (schema?.properties ?? {}) as Record<string, { type?: string; default?: unknown }>;
  const required = new Set((schema?.required ?? []) as string[]);
  const input: Record<string, unknown> = {};
  for (const [name, property] of Object.entries(properties)) {
    if (!required.has(name)) continue;
    input[name] = property.default ?? exampleValue(property.type);
  }
  return input;
}

function exampleValue(type: string | undefined): unknown {
  switch (type) {
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    default:
      return 'example';
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`keel conformance client: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
