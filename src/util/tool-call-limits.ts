import { utf8ByteLength } from './bounded-text.ts';
import { canonicalJson } from './canonical-json.ts';
import { jsonTextShape } from './json-shape.ts';

/**
 * How large a tool call from the model may be. Checked before anything walks the arguments: validation, hashing,
 * journaling and redaction all recurse or copy, and a call over these limits is refused as the model's mistake.
 */
export interface ToolCallLimits {
  /** Characters in a tool name. Defaults to 128, the most MCP allows. */
  readonly maxNameLength: number;
  /** UTF-8 bytes of the arguments as JSON text. Defaults to 1 MiB. */
  readonly maxArgumentBytes: number;
  /** Nesting of arrays and objects in the arguments, the arguments object itself being level 1. Defaults to 64; at most 1,000. */
  readonly maxArgumentDepth: number;
  /** Values (array items, object members) in the arguments, counted from their text. Defaults to 10,000. */
  readonly maxArgumentValues: number;
  /** UTF-8 bytes of the arguments of all tool calls of one model message together. Defaults to 4 MiB. */
  readonly maxMessageArgumentBytes: number;
}

export const defaultToolCallLimits: ToolCallLimits = {
  maxNameLength: 128,
  maxArgumentBytes: 1024 * 1024,
  maxArgumentDepth: 64,
  maxArgumentValues: 10_000,
  maxMessageArgumentBytes: 4 * 1024 * 1024,
};

/** The size of a call's arguments, measured without recursion. */
export interface ArgumentMeasure {
  readonly bytes: number;
  readonly depth: number;
  readonly values?: number;
  /** Set when the call fit on its own but the message's calls together passed `maxMessageArgumentBytes`. */
  readonly messageBytes?: number;
}

/** Measures raw argument text, valid JSON or not. */
export function measureArgumentText(text: string): ArgumentMeasure {
  const shape = jsonTextShape(text);
  return { bytes: utf8ByteLength(text), depth: shape.depth, values: shape.values };
}

/** Measures parsed arguments: the bytes of their JSON text and their nesting, neither by recursion. */
export function measureArgumentValue(value: unknown): ArgumentMeasure {
  return measureArgumentText(canonicalJson(value) ?? '');
}

export function exceedsArgumentLimits(measure: ArgumentMeasure, limits: ToolCallLimits): boolean {
  return (
    measure.bytes > limits.maxArgumentBytes ||
    measure.depth > limits.maxArgumentDepth ||
    (measure.values ?? 0) > limits.maxArgumentValues ||
    measure.messageBytes !== undefined
  );
}
