import type { CreateMessageRequest, CreateMessageResult, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { ContentBlock, Message } from '../../../spec/message.ts';
import type { ModelRequest } from '../../../spec/model.ts';
import type { ToolContext } from '../../define-tool.ts';
import { mcpSdk } from '../mcp-sdk.ts';
import type { McpSamplingConfig } from './mcp-client-capabilities.ts';

/** What one server's sampling has spent; a request past a limit is refused before it reaches the model. */
export class SamplingBudget {
  requests = 0;
  tokens = 0;
  readonly maxRequests: number;
  readonly maxTotalTokens: number;

  constructor(config: McpSamplingConfig) {
    this.maxRequests = config.maxRequests ?? 20;
    this.maxTotalTokens = config.maxTotalTokens ?? 50_000;
  }
}

interface SampleRequest {
  readonly params: CreateMessageRequest['params'];
  readonly config: McpSamplingConfig;
  readonly budget: SamplingBudget;
  readonly serverName: string;
  readonly call: (ToolContext & { readonly tool: string }) | undefined;
  readonly signal: AbortSignal;
}

/**
 * Answers `sampling/createMessage` with Keel's model: inside a session's tool call, the session's (`context.sample`,
 * journaled as a `side-call` and counted in the session's usage and cost); outside one, the configured model. The
 * server's request is untrusted: its output-token ask is capped, its model preferences are hints Keel ignores (the
 * operator chose the model), binary content reaches the model as a summary, and tools are not offered (Keel does not
 * declare sampling with tools). The per-server budget applies either way.
 */
export async function sample(request: SampleRequest): Promise<CreateMessageResult> {
  const { params, config, budget } = request;
  if (budget.requests >= budget.maxRequests) throw refused(`MCP server "${request.serverName}" used its ${budget.maxRequests} sampling requests`);
  if (budget.tokens >= budget.maxTotalTokens) throw refused(`MCP server "${request.serverName}" used its ${budget.maxTotalTokens} sampling tokens`);
  budget.requests += 1;
  const maxOutputTokens = Math.max(1, Math.min(params.maxTokens, config.maxTokensPerRequest ?? 1_024, budget.maxTotalTokens - budget.tokens));
  const messages: Message[] = params.messages.map((message) => ({ role: message.role, content: toBlocks(message.content) }));
  const signal = request.call === undefined ? request.signal : AbortSignal.any([request.signal, request.call.signal]);
  const modelRequest: ModelRequest = {
    ...(params.systemPrompt === undefined ? {} : { system: params.systemPrompt }),
    messages,
    tools: [],
    maxOutputTokens,
    ...(params.temperature === undefined ? {} : { temperature: params.temperature }),
    ...(params.stopSequences === undefined ? {} : { stopSequences: params.stopSequences }),
  };
  // Inside a Keel session's tool call, the session samples: journaled as a side call and counted in its budgets.
  const sessionSample = request.call?.sample;
  const response = sessionSample === undefined ? await config.model.generate(modelRequest, signal) : await sessionSample(modelRequest, { signal, purpose: `mcp-sampling:${request.serverName}` });
  const inputTokens = response.usage.inputTokens + response.usage.cacheReadTokens + response.usage.cacheWriteTokens;
  budget.tokens += inputTokens + response.usage.outputTokens;
  config.onSample?.({
    server: request.serverName,
    model: response.model,
    inputTokens,
    outputTokens: response.usage.outputTokens,
    stopReason: response.stopReason,
    ...(request.call === undefined ? {} : { sessionId: request.call.sessionId, callId: request.call.callId }),
  });
  const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
  return { role: 'assistant', content: { type: 'text', text }, model: response.model, stopReason: stopReasonOf(response.stopReason) };
}

function toBlocks(content: CreateMessageRequest['params']['messages'][number]['content']): ContentBlock[] {
  const parts = Array.isArray(content) ? content : [content];
  return parts.map((part): ContentBlock => {
    const block = part as { type: string; text?: string; mimeType?: string; data?: string };
    if (block.type === 'text' && typeof block.text === 'string') return { type: 'text', text: block.text };
    if ((block.type === 'image' || block.type === 'audio') && typeof block.data === 'string') {
      return { type: 'text', text: `[${block.type}: ${block.mimeType ?? 'unknown type'}, ${Buffer.byteLength(block.data, 'base64')} bytes]` };
    }
    return { type: 'text', text: `[${block.type} content]` };
  });
}

function stopReasonOf(reason: string): string {
  if (reason === 'max_tokens') return 'maxTokens';
  if (reason === 'stop_sequence') return 'stopSequence';
  return 'endTurn';
}

function refused(message: string): McpError {
  const { McpError, ErrorCode } = mcpSdk();
  return new McpError(ErrorCode.InvalidRequest, `${message}; Keel refuses further sampling on this connection.`);
}
