/**
 * `POST /v1/messages/count_tokens` for the mock Anthropic server: the request checks the real endpoint makes on the
 * fields it knows (400 `invalid_request_error` with a pydantic-style field path, as the real API words them; where the
 * real sentence is not documented the wording is the mock's), and a token count by a documented rule.
 *
 * The count is a TEST DOUBLE: Anthropic's tokenizer is not public, so the mock cannot know the real figure. It counts
 * deterministically so that tests can predict it (`mockInputTokens`) and tell it apart from Keel's own estimate:
 *
 *   3 (the request)
 *   + for each message: 4, and for each content block 3 + ⌈bytes/3⌉ of its text (text, thinking, tool_use name and
 *     JSON input, tool_result content; a string content is one text block)
 *   + ⌈bytes/3⌉ of the system prompt (all its text blocks when it is an array)
 *   + for each tool: 8 + ⌈bytes/3⌉ of its JSON, and 10 more once when any tools are given (the tool-use preamble)
 *
 * where bytes is the UTF-8 length. Nothing here says anything about how Claude tokenizes.
 */

/** The fields the endpoint accepts (SDK 1.14.0 `MessageCountTokensParams`); anything else is "Extra inputs are not permitted". */
const knownFields = new Set(['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'cache_control', 'output_config', 'speed', 'mcp_servers', 'context_management']);
const requestBlockTypes = new Set(['text', 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking', 'server_tool_use', 'web_search_tool_result', 'web_fetch_tool_result', 'code_execution_tool_result', 'container_upload']);
const toolNamePattern = /^[a-zA-Z0-9_-]{1,128}$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first problem the real endpoint would answer with a 400 `invalid_request_error`, or null for a valid body. */
export function countTokensProblem(body: unknown): string | null {
  if (!isObject(body)) return 'The request body is not valid JSON.';
  for (const field of Object.keys(body)) if (!knownFields.has(field)) return `${field}: Extra inputs are not permitted`;
  if (body.model === undefined) return 'model: Field required';
  if (typeof body.model !== 'string' || body.model === '') return 'model: Input should be a valid string';
  if (body.messages === undefined) return 'messages: Field required';
  if (!Array.isArray(body.messages)) return 'messages: Input should be a valid list';
  if (body.messages.length === 0) return 'messages: at least one message is required';
  const system = systemProblem(body.system);
  if (system !== null) return system;
  const tools = toolsProblem(body.tools);
  if (tools !== null) return tools;
  const choice = toolChoiceProblem(body.tool_choice, body.tools);
  if (choice !== null) return choice;
  const thinking = thinkingProblem(body.thinking);
  if (thinking !== null) return thinking;
  return messagesProblem(body.messages);
}

function systemProblem(system: unknown): string | null {
  if (system === undefined || typeof system === 'string') return null;
  if (!Array.isArray(system)) return 'system: Input should be a valid string or a list of text blocks';
  for (const [index, block] of system.entries()) {
    if (!isObject(block) || block.type !== 'text' || typeof block.text !== 'string') return `system.${index}: Input should be a valid text block`;
    if (block.text === '') return `system.${index}.text: text content blocks must be non-empty`;
  }
  return null;
}

function toolsProblem(tools: unknown): string | null {
  if (tools === undefined) return null;
  if (!Array.isArray(tools)) return 'tools: Input should be a valid list';
  const names = new Set<string>();
  for (const [index, tool] of tools.entries()) {
    if (!isObject(tool)) return `tools.${index}: Input should be a valid dictionary`;
    if (typeof tool.name !== 'string') return `tools.${index}.name: Field required`;
    if (tool.type === undefined || tool.type === 'custom') {
      if (!toolNamePattern.test(tool.name)) return `tools.${index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`;
      if (!isObject(tool.input_schema)) return `tools.${index}.custom.input_schema: Field required`;
      if (tool.input_schema.type !== 'object') return `tools.${index}.custom.input_schema.type: Input should be 'object'`;
    }
    if (names.has(tool.name)) return 'tools: Tool names must be unique.';
    names.add(tool.name);
  }
  return null;
}

function toolChoiceProblem(choice: unknown, tools: unknown): string | null {
  if (choice === undefined) return null;
  if (!isObject(choice) || !['auto', 'any', 'none', 'tool'].includes(String(choice.type))) return "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'";
  if (choice.type !== 'tool') return null;
  if (typeof choice.name !== 'string') return 'tool_choice.tool.name: Field required';
  const known = Array.isArray(tools) && tools.some((tool) => isObject(tool) && tool.name === choice.name);
  return known ? null : `tool_choice.tool.name: Tool '${choice.name}' not found in provided tools`;
}

function thinkingProblem(thinking: unknown): string | null {
  if (thinking === undefined) return null;
  if (!isObject(thinking) || !['enabled', 'disabled', 'adaptive', 'between_tools'].includes(String(thinking.type))) {
    return "thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled', 'adaptive', 'between_tools'";
  }
  if (thinking.type !== 'enabled') return null;
  if (typeof thinking.budget_tokens !== 'number' || !Number.isInteger(thinking.budget_tokens)) return 'thinking.enabled.budget_tokens: Field required';
  return thinking.budget_tokens < 1024 ? 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024' : null;
}

function messagesProblem(messages: readonly unknown[]): string | null {
  let previousToolUses = new Set<string>();
  for (const [index, message] of messages.entries()) {
    if (!isObject(message)) return `messages.${index}: Input should be a valid dictionary`;
    if (message.role !== 'user' && message.role !== 'assistant') return `messages.${index}.role: Input should be 'user' or 'assistant'`;
    if (typeof message.content === 'string') {
      if (message.content === '' && index < messages.length - 1) return `messages.${index}: all messages must have non-empty content except for the optional final assistant message`;
      previousToolUses = new Set();
      continue;
    }
    if (!Array.isArray(message.content)) return `messages.${index}.content: Input should be a valid string or list`;
    const toolUses = new Set<string>();
    for (const [blockIndex, block] of message.content.entries()) {
      const path = `messages.${index}.content.${blockIndex}`;
      if (!isObject(block) || typeof block.type !== 'string') return `${path}: Input should be a valid dictionary`;
      if (!requestBlockTypes.has(block.type)) return `${path}: Input tag '${block.type}' found using 'type' does not match any of the expected tags`;
      if (block.type === 'text' && (typeof block.text !== 'string' || block.text === '')) return `${path}.text: text content blocks must be non-empty`;
      if (block.type === 'thinking' && (typeof block.thinking !== 'string' || typeof block.signature !== 'string')) return `${path}.thinking.signature: Field required`;
      if (block.type === 'tool_use') {
        if (message.role !== 'assistant') return `${path}: tool_use blocks can only be in assistant messages`;
        if (typeof block.id !== 'string' || typeof block.name !== 'string' || !isObject(block.input)) return `${path}.tool_use: id, name and an object input are required`;
        toolUses.add(block.id);
      }
      if (block.type === 'tool_result') {
        if (message.role !== 'user') return `${path}: tool_result blocks can only be in user messages`;
        if (typeof block.tool_use_id !== 'string') return `${path}.tool_result.tool_use_id: Field required`;
        if (!previousToolUses.has(block.tool_use_id)) {
          return `${path}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
        }
      }
    }
    previousToolUses = toolUses;
  }
  return null;
}

function tokensOf(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 3);
}

function blockText(block: Json): string {
  switch (block.type) {
    case 'text':
      return String(block.text ?? '');
    case 'thinking':
      return String(block.thinking ?? '');
    case 'tool_use':
      return `${String(block.name ?? '')}${JSON.stringify(block.input ?? {})}`;
    case 'tool_result':
      return typeof block.content === 'string' ? block.content : JSON.stringify(block.content ?? '');
    default:
      return JSON.stringify(block);
  }
}

/** The mock's count for a valid body, by the rule in this file's header comment. */
export function mockInputTokens(body: unknown): number {
  if (!isObject(body)) return 0;
  let total = 3;
  for (const message of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(message)) continue;
    total += 4;
    const blocks = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : Array.isArray(message.content) ? message.content : [];
    for (const block of blocks) if (isObject(block)) total += 3 + tokensOf(blockText(block));
  }
  if (typeof body.system === 'string') total += tokensOf(body.system);
  else if (Array.isArray(body.system)) for (const block of body.system) if (isObject(block)) total += tokensOf(String(block.text ?? ''));
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const tool of tools) total += 8 + tokensOf(JSON.stringify(tool));
  if (tools.length > 0) total += 10;
  return total;
}
