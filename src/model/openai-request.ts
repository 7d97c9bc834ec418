import type {
  ChatCompletionAssistantMessageParam,
  ChatCompletionCreateParamsBase,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
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
  for (const message of request.messages) appendOpenAIMessages(messages, message);

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
  // Added to the object made here rather than copied into a new one: this runs for every call, over the whole request.
  return Object.assign(params, openAIHostedTools(request.hostedTools ?? [], modelId));
}

/** Appends one Keel message as Chat Completions messages, in one pass over its blocks (it runs for every message of every call). */
function appendOpenAIMessages(messages: ChatCompletionMessageParam[], message: Message): void {
  const texts: string[] = [];
  const toolCalls: ChatCompletionMessageToolCall[] = [];
  const results: ChatCompletionMessageParam[] = [];
  for (const block of message.content) {
    if (block.type === 'text') {
      if (block.text !== '') texts.push(block.text);
    } else if (block.type === 'tool_use') {
      toolCalls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) } });
    } else if (block.type === 'tool_result') {
      results.push({ role: 'tool', tool_call_id: block.toolUseId, content: block.isError ? errorContent(block.content) : block.content });
    }
  }
  const text = texts.length === 1 ? (texts[0] as string) : texts.join('\n\n');
  if (message.role === 'assistant') {
    // Content may be null only beside tool calls.
    const assistant: ChatCompletionAssistantMessageParam = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text };
    if (toolCalls.length > 0) assistant.tool_calls = toolCalls;
    messages.push(assistant);
    return;
  }
  // Tool messages must directly follow the assistant turn that made the calls, so they come before any user text.
  for (const result of results) messages.push(result);
  if (text !== '') messages.push({ role: 'user', content: text });
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
