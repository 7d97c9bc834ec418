import type { MessageCreateParamsBase, MessageParam, ContentBlockParam, Tool, ToolChoice as AnthropicToolChoice } from '@anthropic-ai/sdk/resources/messages';
import type { ContentBlock, Message } from '../spec/message.ts';
import type { ModelRequest, ToolChoice } from '../spec/model.ts';
import { anthropicHostedTools } from './hosted-tools.ts';
import { placeCacheBreakpoints } from './prompt-cache.ts';
import { sha256 } from '../util/index.ts';

/**
 * Keel's request in the Messages API's shape: system as a top-level string, tool results as user-turn blocks, hosted
 * tools as server tools, and `cache_control` breakpoints when prompt caching is asked for. `temperature`, `topP` and
 * `seed` are not sent: API version 2026-10-21, which this SDK speaks, answers any sampling parameter with a 400 (the
 * gateway journals them as unsent).
 */
export function toAnthropicParams(modelId: string, request: ModelRequest): MessageCreateParamsBase {
  const params: MessageCreateParamsBase = {
    model: modelId,
    max_tokens: request.maxOutputTokens,
    messages: request.messages.map(toAnthropicMessage),
  };
  if (request.system !== undefined && request.system !== '') params.system = request.system;
  const hosted = anthropicHostedTools(request.hostedTools ?? []);
  if (request.tools.length > 0 || hosted.length > 0) {
    params.tools = [
      ...request.tools.map((tool): Tool => ({
        name: tool.name,
        description: tool.description,
        input_schema: { type: 'object', ...tool.inputSchema },
      })),
      ...hosted,
    ];
    if (request.toolChoice !== undefined) params.tool_choice = toAnthropicToolChoice(request.toolChoice);
  }
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) params.stop_sequences = [...request.stopSequences];
  return request.promptCaching === undefined ? params : placeCacheBreakpoints(params, request.promptCaching);
}

function toAnthropicMessage(message: Message): MessageParam {
  // The API wants a user turn's tool results before anything else in it.
  const ordered = message.role === 'user' ? [...message.content].sort((left, right) => rank(left) - rank(right)) : message.content;
  const content = ordered.map(toAnthropicBlock).filter((block): block is ContentBlockParam => block !== null);
  return { role: message.role, content };
}

function rank(block: ContentBlock): number {
  return block.type === 'tool_result' ? 0 : 1;
}

function toAnthropicBlock(block: ContentBlock): ContentBlockParam | null {
  switch (block.type) {
    case 'text':
      // The API rejects empty text blocks.
      return block.text === '' ? null : { type: 'text', text: block.text };
    case 'tool_use':
      // A call whose arguments were malformed is echoed with the `{}` it was recorded with: the API needs an object.
      return { type: 'tool_use', id: anthropicToolId(block.id), name: block.name, input: block.input ?? {} };
    case 'tool_result':
      return { type: 'tool_result', tool_use_id: anthropicToolId(block.toolUseId), content: block.content, ...(block.isError ? { is_error: true } : {}) };
    case 'thinking':
      // Only signed thinking can go back to Anthropic; unsigned thinking came from another provider.
      return block.signature === undefined || block.signature === '' ? null : { type: 'thinking', thinking: block.thinking, signature: block.signature };
    case 'hosted_tool':
      // Anthropic's own server-tool blocks go back as they came; another provider's have no meaning here.
      return block.provider === 'anthropic' ? (block.data as unknown as ContentBlockParam) : null;
  }
}

/**
 * Anthropic accepts tool ids of `[a-zA-Z0-9_-]` only; a call another provider answered may have an id with other
 * characters (`functions.lookup:0` from some compatible servers). Such an id is rewritten the same way wherever it
 * appears (the call and its result), with a hash of the original so that two ids never meet in one rewrite.
 */
export function anthropicToolId(id: string): string {
  if (/^[a-zA-Z0-9_-]+$/.test(id)) return id;
  return `${id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 40)}_${sha256(id).slice(0, 12)}`;
}

function toAnthropicToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (choice === 'auto' || choice === 'any' || choice === 'none') return { type: choice };
  return { type: 'tool', name: choice.name };
}
