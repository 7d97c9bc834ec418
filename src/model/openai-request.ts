import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionToolChoiceOption,
} from 'openai/resources/chat/completions';
import type { Message } from '../spec/message.ts';
import type { ModelRequest, ToolChoice } from '../spec/model.ts';
import { openAIHostedTools } from './hosted-tools.ts';

/**
 * Keel's request as Chat Completions: the system prompt as a `system` message (every compatible server knows
 * it), one `role:"tool"` message per tool result, thinking dropped (the API has no place for it).
 */
export function toOpenAIParams(modelId: string, request: ModelRequest, provider: string): ChatCompletionCreateParamsBase {
  const messages: ChatCompletionMessageParam[] = [];
  if (request.system !== undefined && request.system !== '') messages.push({ role: 'system', content: request.system });
  for (const message of request.messages) messages.push(...toOpenAIMessages(message));

  const params: ChatCompletionCreateParamsBase = { model: modelId, messages };
  // OpenAI's reasoning models accept only max_completion_tokens; compatible servers widely know only max_tokens.
  if (provider === 'openai') params.max_completion_tokens = request.maxOutputTokens;
  else params.max_tokens = request.maxOutputTokens;
  if (request.tools.length > 0) {
    params.tools = request.tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, description: tool.description, parameters: { type: 'object', ...tool.inputSchema } },
    }));
    if (request.toolChoice !== undefined) params.tool_choice = toOpenAIToolChoice(request.toolChoice);
  }
  if (request.temperature !== undefined) params.temperature = request.temperature;
  if (request.topP !== undefined) params.top_p = request.topP;
  if (request.seed !== undefined) params.seed = request.seed;
  if (request.stopSequences !== undefined && request.stopSequences.length > 0) params.stop = [...request.stopSequences];
  // Prompt caching needs no markers here: OpenAI caches long prefixes by itself and reports cached_tokens.
  return { ...params, ...openAIHostedTools(request.hostedTools ?? [], modelId) };
}

function toOpenAIMessages(message: Message): ChatCompletionMessageParam[] {
  const text = message.content
    .flatMap((block) => (block.type === 'text' && block.text !== '' ? [block.text] : []))
    .join('\n\n');
  if (message.role === 'assistant') {
    const toolCalls = message.content.flatMap((block) =>
      block.type === 'tool_use'
        ? [{ id: block.id, type: 'function' as const, function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } }]
        : [],
    );
    // Content may be null only beside tool calls.
    const assistant: ChatCompletionAssistantMessageParam = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
    if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
    return [assistant];
  }
  // Tool messages must directly follow the assistant turn that made the calls, so they come before any user text.
  const results: ChatCompletionMessageParam[] = message.content.flatMap((block) =>
    block.type === 'tool_result'
      ? [{ role: 'tool' as const, tool_call_id: block.toolUseId, content: block.isError ? errorContent(block.content) : block.content }]
      : [],
  );
  if (text !== '') results.push({ role: 'user', content: text });
  return results;
}

/** Chat Completions has no error flag on tool results, so the failure is stated in the text. */
function errorContent(content: string): string {
  return /^error\b/i.test(content) ? content : `Error: ${content}`;
}

function toOpenAIToolChoice(choice: ToolChoice): ChatCompletionToolChoiceOption {
  if (choice === 'auto' || choice === 'none') return choice;
  if (choice === 'any') return 'required';
  return { type: 'function', function: { name: choice.name } };
}
