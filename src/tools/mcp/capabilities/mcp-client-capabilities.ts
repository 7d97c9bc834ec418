import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Model } from '../../../spec/model.ts';
import { hashValue } from '../../../util/index.ts';
import type { ToolContext } from '../../define-tool.ts';
import { mcpSdk } from '../mcp-sdk.ts';
import { ElicitationInbox, type ElicitationAnswer } from './elicitation-inbox.ts';
import { SamplingBudget, sample } from './mcp-sampling.ts';

/** A folder the agent lets the server work in, sent as an MCP root (`file://` URI). */
export interface McpRoot {
  readonly uri: string;
  readonly name?: string;
}

export interface McpElicitationConfig {
  /** Where questions wait for a person: an inbox, or the folder of one. */
  readonly inbox: ElicitationInbox | string;
  /** How long a call waits for the answer before telling the server `cancel`. Defaults to 2 minutes. */
  readonly waitMs?: number;
  /** Poll interval of the inbox while waiting. Defaults to 250 ms. */
  readonly pollMs?: number;
}

export interface McpSamplingConfig {
  /** The model the server's `sampling/createMessage` requests go to (a provider from Keel's model layer). */
  readonly model: Model;
  /** Output tokens allowed per request, whatever the server asks. Defaults to 1,024. */
  readonly maxTokensPerRequest?: number;
  /** Input plus output tokens all requests of this server may use. Defaults to 50,000. */
  readonly maxTotalTokens?: number;
  /** Requests allowed. Defaults to 20. */
  readonly maxRequests?: number;
  /** Told about each request after it ran (usage, the model's answer), for a journal or an audit log. */
  readonly onSample?: (record: SamplingRecord) => void;
}

export interface SamplingRecord {
  readonly server: string;
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly stopReason: string;
  readonly sessionId?: string;
  readonly callId?: string;
}

export interface McpClientCapabilityConfig {
  readonly serverName: string;
  readonly roots?: readonly McpRoot[];
  readonly elicitation?: McpElicitationConfig;
  readonly sampling?: McpSamplingConfig;
}

/** Tool calls in flight on one connection, so a server's request made during a call can be tied to it. */
export class InFlightCalls {
  private readonly calls = new Set<ToolContext & { readonly tool: string }>();

  track(call: ToolContext & { readonly tool: string }): () => void {
    this.calls.add(call);
    return () => this.calls.delete(call);
  }

  /** The only call in flight, or undefined when there are none or several (then no single call can be blamed). */
  single(): (ToolContext & { readonly tool: string }) | undefined {
    return this.calls.size === 1 ? [...this.calls][0] : undefined;
  }
}

/** What Keel declares in `initialize`: only what it is configured to answer. */
export function clientCapabilities(config: McpClientCapabilityConfig): ClientCapabilities {
  return {
    ...(config.roots === undefined ? {} : { roots: { listChanged: false } }),
    // `applyDefaults`: the SDK fills a field the person left empty with the default the server's schema gives.
    ...(config.elicitation === undefined ? {} : { elicitation: { form: { applyDefaults: true } } }),
    ...(config.sampling === undefined ? {} : { sampling: {} }),
  };
}

/** Registers the handlers for the capabilities declared; requests for the others are refused by the SDK. */
export function registerCapabilityHandlers(client: Client, config: McpClientCapabilityConfig, calls: InFlightCalls): void {
  const { CreateMessageRequestSchema, ElicitRequestSchema, ErrorCode, ListRootsRequestSchema, McpError } = mcpSdk();
  const roots = config.roots;
  if (roots !== undefined) {
    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: roots.map((root) => ({ uri: root.uri, ...(root.name === undefined ? {} : { name: root.name }) })) }));
  }
  const elicitation = config.elicitation;
  if (elicitation !== undefined) {
    const inbox = typeof elicitation.inbox === 'string' ? new ElicitationInbox(elicitation.inbox) : elicitation.inbox;
    client.setRequestHandler(ElicitRequestSchema, async (request, extra) => {
      const params = request.params;
      if (params.mode === 'url') throw new McpError(ErrorCode.InvalidParams, 'Keel answers form elicitation only; URL elicitation is not supported.');
      const answer = await askPerson({ inbox, config: elicitation, serverName: config.serverName, message: params.message, requestedSchema: params.requestedSchema as Record<string, unknown>, call: calls.single(), signal: extra.signal });
      return answer.action === 'accept' ? { action: 'accept', content: { ...(answer.content ?? {}) } as Record<string, string | number | boolean | string[]> } : { action: answer.action };
    });
  }
  const sampling = config.sampling;
  if (sampling !== undefined) {
    const budget = new SamplingBudget(sampling);
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => sample({ params: request.params, config: sampling, budget, serverName: config.serverName, call: calls.single(), signal: extra.signal }));
  }
}

interface AskPersonRequest {
  readonly inbox: ElicitationInbox;
  readonly config: McpElicitationConfig;
  readonly serverName: string;
  readonly message: string;
  readonly requestedSchema: Record<string, unknown>;
  readonly call: (ToolContext & { readonly tool: string }) | undefined;
  readonly signal: AbortSignal;
}

/**
 * The answer from the inbox: a stored one for the same question of the same call (a retried or resumed call), else
 * a new pending question waited on until a person answers, the server gives up, or `waitMs` passes (then `cancel`,
 * and the question stays pending: the next attempt of the call gets the answer).
 */
async function askPerson(request: AskPersonRequest): Promise<ElicitationAnswer> {
  const { inbox, call } = request;
  const key = hashValue({ server: request.serverName, call: call?.idempotencyKey ?? null, message: request.message, schema: request.requestedSchema });
  // A stored answer is reused only for the same call: a question asked while several calls ran is tied to none of
  // them, and one call's answer must not be handed to another.
  const item =
    (call === undefined ? null : inbox.findByKey(key)) ??
    inbox.add({
      key,
      server: request.serverName,
      message: request.message,
      requestedSchema: request.requestedSchema,
      ...(call === undefined ? {} : { sessionId: call.sessionId, tool: call.tool, callId: call.callId }),
    });
  const deadline = Date.now() + (request.config.waitMs ?? 120_000);
  const pollMs = request.config.pollMs ?? 250;
  for (;;) {
    const current = inbox.get(item.id);
    if (current?.status === 'answered' && current.answer !== undefined) return current.answer;
    if (request.signal.aborted || call?.signal.aborted === true || Date.now() >= deadline) return { action: 'cancel' };
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
