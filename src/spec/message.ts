/** Content blocks are Keel's own provider-neutral shape; providers translate to and from their wire formats. */
export interface TextBlock {
  readonly type: 'text';
  readonly text: string;
}

export interface ToolUseBlock {
  readonly type: 'tool_use';
  readonly id: string;
  readonly name: string;
  /** Parsed arguments. When the model sent arguments that are not valid JSON, this is `{}` and `malformedInput` holds the raw text. */
  readonly input: unknown;
  readonly malformedInput?: string;
  /**
   * Set when the arguments were over the tool-call limits (UTF-8 bytes of JSON, nesting depth): `input` is then `{}`
   * and `malformedInput` a bounded preview, so nothing larger or deeper than the limits travels on, and the call is
   * refused with these numbers.
   */
  readonly oversizedInput?: { readonly bytes: number; readonly depth: number; readonly values?: number; readonly messageBytes?: number };
}

export interface ToolResultBlock {
  readonly type: 'tool_result';
  readonly toolUseId: string;
  readonly content: string;
  readonly isError: boolean;
}

export interface ThinkingBlock {
  readonly type: 'thinking';
  readonly thinking: string;
  readonly signature?: string;
}

/**
 * A block of a tool the provider ran on its own side (web search, web fetch, code execution, and their results),
 * kept as the provider sent it: it goes back to that provider in later turns, is shown in traces, and is never run
 * by Keel. Other providers do not receive it.
 */
export interface HostedToolBlock {
  readonly type: 'hosted_tool';
  readonly provider: string;
  /** The provider's block type: `server_tool_use`, `web_search_tool_result`, `url_citation`, … */
  readonly kind: string;
  /** The hosted tool's name, when the block says it. */
  readonly name?: string;
  /** The block's own id, or the id of the call it answers. */
  readonly id?: string;
  /** The provider's block, whole. */
  readonly data: Readonly<Record<string, unknown>>;
}

export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | HostedToolBlock;

export type Role = 'user' | 'assistant';

export interface Message {
  readonly role: Role;
  readonly content: readonly ContentBlock[];
}
