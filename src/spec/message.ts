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

export type ContentBlock = TextBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock;

export type Role = 'user' | 'assistant';

export interface Message {
  readonly role: Role;
  readonly content: readonly ContentBlock[];
}
