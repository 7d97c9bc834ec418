import { KeelError } from '../../errors/index.ts';
import { normalizedNameMap, normalizeToolName } from '../../security/tool-name.ts';
import type { ToolRisk } from '../define-tool.ts';
import { checkAuthConfig } from './auth/mcp-authorized-fetch.ts';
import type { McpAuthConfig } from './auth/mcp-auth-config.ts';
import type { McpElicitationConfig, McpRoot, McpSamplingConfig } from './capabilities/mcp-client-capabilities.ts';

export interface McpStdioTransportConfig {
  readonly kind: 'stdio';
  readonly command: string;
  readonly args?: readonly string[];
  /**
   * Added to the small default environment the SDK passes (HOME, PATH, SHELL, TERM, USER, LOGNAME); the rest of
   * Keel's environment, including API keys, is deliberately not inherited by a third-party server.
   */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export interface McpHttpTransportConfig {
  readonly kind: 'http';
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** OAuth for a protected server (MCP's authorization): a person's login, or client credentials for a service. */
  readonly auth?: McpAuthConfig;
}

export type McpTransportConfig = McpStdioTransportConfig | McpHttpTransportConfig;

export interface McpServerConfig {
  /** Prefixes every tool name (`<name>__<tool>`), so it must be short and made of letters, digits, `-` and single `_`. */
  readonly name: string;
  readonly transport: McpTransportConfig;
  /** Per-call timeout, also each tool's `timeoutMs`. Defaults to 30 seconds. */
  readonly timeoutMs?: number;
  /** How long starting the server and the `initialize` handshake may take. Defaults to 15 seconds. */
  readonly connectTimeoutMs?: number;
  /**
   * Keyed by the server's own tool name (not the prefixed one), matched whatever the case, separators or invisible
   * characters: an override for `delete_file` also covers a tool listed as `Delete-File`. Annotations may still raise
   * the risk. A tool with an entry here is judged by it even on an untrusted server (no forced approval).
   */
  readonly riskOverrides?: Readonly<Record<string, ToolRisk>>;
  /** Defaults to `write`: an MCP tool is assumed to change something unless configured otherwise. */
  readonly defaultRisk?: ToolRisk;
  /**
   * Whether to believe what the server says about its tools. Defaults to `untrusted`: annotations are hints that can
   * only raise a tool's risk, and every tool without a `riskOverrides` entry needs a person's approval for each call
   * under the default policy, even one that claims `readOnlyHint: true`. `trusted`: a tool without an override takes
   * its risk from its annotations (`readOnlyHint: true` is `read`, `destructiveHint: true` is `irreversible`), else
   * `defaultRisk`, and runs under the policy like a local tool. Mark a server trusted only when you control it.
   */
  readonly trust?: McpServerTrust;
  /** Scopes every tool of this server requires, for the authorize stage. */
  readonly scopes?: readonly string[];
  /** Characters of a server's tool description kept. Defaults to 1,000. */
  readonly maxDescriptionChars?: number;
  /** Folders the server may work in, declared as the `roots` capability. Omitted: no roots are offered. */
  readonly roots?: readonly McpRoot[];
  /** Lets the server ask a person for input (form elicitation), answered through a durable inbox. Omitted: not declared. */
  readonly elicitation?: McpElicitationConfig;
  /** Lets the server ask Keel's model for a completion, within a budget. Omitted: not declared. */
  readonly sampling?: McpSamplingConfig;
}

export type McpServerTrust = 'trusted' | 'untrusted';

/** The configuration with its defaults applied and checked once, so the rest of the module can rely on it. */
export interface ResolvedMcpServerConfig {
  readonly name: string;
  readonly transport: McpTransportConfig;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly riskOverrides: Readonly<Record<string, ToolRisk>>;
  readonly defaultRisk: ToolRisk;
  readonly trust: McpServerTrust;
  readonly scopes: readonly string[];
  readonly maxDescriptionChars: number;
  readonly roots?: readonly McpRoot[];
  readonly elicitation?: McpElicitationConfig;
  readonly sampling?: McpSamplingConfig;
}

/** Up to 32 characters leaves at least 30 of the 64 a provider allows for the tool's own name. */
const serverNamePattern = /^[a-zA-Z0-9-]+(?:_[a-zA-Z0-9-]+)*$/;
const maxServerNameLength = 32;
const risks: readonly ToolRisk[] = ['read', 'write', 'irreversible'];

export function resolveMcpServerConfig(config: McpServerConfig): ResolvedMcpServerConfig {
  const { name } = config;
  // A double underscore would make `a__b` + `c` and `a` + `b__c` the same prefixed name, so one server could shadow another's tool.
  if (!serverNamePattern.test(name) || name.length > maxServerNameLength) {
    throw new KeelError(
      'invalid-config',
      `MCP server name "${name}" must be 1–${maxServerNameLength} letters, digits, "-" or single "_" (no "__", which separates server and tool).`,
    );
  }
  const timeoutMs = config.timeoutMs ?? 30_000;
  const connectTimeoutMs = config.connectTimeoutMs ?? 15_000;
  if (!(timeoutMs > 0)) throw new KeelError('invalid-config', `MCP server "${name}": timeoutMs must be positive, got ${timeoutMs}.`);
  if (!(connectTimeoutMs > 0)) throw new KeelError('invalid-config', `MCP server "${name}": connectTimeoutMs must be positive, got ${connectTimeoutMs}.`);
  const defaultRisk = config.defaultRisk ?? 'write';
  for (const [tool, risk] of [['defaultRisk', defaultRisk], ...Object.entries(config.riskOverrides ?? {})] as const) {
    if (!risks.includes(risk)) throw new KeelError('invalid-config', `MCP server "${name}": risk for ${tool} must be one of ${risks.join(', ')}, got "${String(risk)}".`);
  }
  // Refuses two spellings of one name with different risks; which would apply would depend on how the server spells it.
  normalizedNameMap(Object.entries(config.riskOverrides ?? {}), `MCP server "${name}": riskOverrides`);
  const trust = config.trust ?? 'untrusted';
  if (trust !== 'trusted' && trust !== 'untrusted') throw new KeelError('invalid-config', `MCP server "${name}": trust must be "trusted" or "untrusted", got "${String(trust)}".`);
  const transport = config.transport;
  if (transport.kind === 'stdio' && transport.command.trim() === '') {
    throw new KeelError('invalid-config', `MCP server "${name}": transport.command is empty.`);
  }
  if (transport.kind === 'http') {
    let protocol: string;
    try {
      protocol = new URL(transport.url).protocol;
    } catch (error) {
      throw new KeelError('invalid-config', `MCP server "${name}": transport.url "${transport.url}" is not a URL.`, { cause: error });
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw new KeelError('invalid-config', `MCP server "${name}": transport.url must be http or https, got "${protocol}".`);
    }
    if (transport.auth !== undefined) checkAuthConfig(name, transport.auth);
  }
  for (const root of config.roots ?? []) {
    if (!root.uri.startsWith('file://')) throw new KeelError('invalid-config', `MCP server "${name}": root "${root.uri}" must be a file:// URI.`);
  }
  return {
    name,
    transport,
    timeoutMs,
    connectTimeoutMs,
    riskOverrides: config.riskOverrides ?? {},
    defaultRisk,
    trust,
    scopes: config.scopes ?? [],
    maxDescriptionChars: config.maxDescriptionChars ?? 1_000,
    ...(config.roots === undefined ? {} : { roots: config.roots }),
    ...(config.elicitation === undefined ? {} : { elicitation: config.elicitation }),
    ...(config.sampling === undefined ? {} : { sampling: config.sampling }),
  };
}

/**
 * How errors name the server: the command line for stdio, the URL for HTTP. Errors can reach the model and the
 * journal, so what often carries credentials stays out: header values, and a URL's user, password and query.
 */
export function describeTransport(transport: McpTransportConfig): string {
  if (transport.kind === 'http') {
    const url = new URL(transport.url);
    return `${url.origin}${url.pathname}`;
  }
  return [transport.command, ...(transport.args ?? [])].map((part) => (/[\s"']/.test(part) ? JSON.stringify(part) : part)).join(' ');
}

/** The override for a server's tool, found by normalized name; undefined when the operator set none. */
export function riskOverrideFor(config: Pick<ResolvedMcpServerConfig, 'riskOverrides'>, toolName: string): ToolRisk | undefined {
  const wanted = normalizeToolName(toolName);
  for (const [name, risk] of Object.entries(config.riskOverrides)) if (normalizeToolName(name) === wanted) return risk;
  return undefined;
}
