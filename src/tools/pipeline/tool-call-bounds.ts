import { KeelError } from '../../errors/index.ts';
import { toolCallLimitsFrom } from '../../model/tool-arguments.ts';
import type { ToolUseBlock } from '../../spec/message.ts';
import { boundText, exceedsArgumentLimits, measureArgumentText, measureArgumentValue } from '../../util/index.ts';
import type { ArgumentMeasure, ToolCallLimits } from '../../util/index.ts';

export type { ToolCallLimits };

/** Denials by these rules are `tool-invalid-input`: the model sent a call too large to consider. */
export const limitRules = { name: 'limit:tool-name', arguments: 'limit:arguments' } as const;

export function resolvePipelineLimits(limits: Partial<ToolCallLimits> | undefined): ToolCallLimits {
  return toolCallLimitsFrom(limits);
}

/**
 * The first check a call meets, before anything walks its arguments (schema validation, policy rules, hashing,
 * redaction): a name or arguments over the limits are refused with a message that says by how much. Arguments the
 * gateway already cut carry their measure (`oversizedInput`); others are measured here, without recursion, in case
 * the response came from a caller that bypassed the gateway.
 */
export function refuseOverLimitCall(call: ToolUseBlock, limits: ToolCallLimits): { rule: string; error: KeelError } | null {
  if (call.name.length > limits.maxNameLength) {
    return {
      rule: limitRules.name,
      error: new KeelError('tool-invalid-input', `The tool name "${boundText(call.name)}" is ${call.name.length} characters long; the limit is ${limits.maxNameLength}. Call a tool by its exact name from the tool list.`),
    };
  }
  const measure = measureOf(call);
  if (!exceedsArgumentLimits(measure, limits)) return null;
  const excess =
    measure.messageBytes !== undefined
      ? `were not considered: with them this message's tool calls carry ${measure.messageBytes} bytes of arguments, and the limit for one message is ${limits.maxMessageArgumentBytes} bytes; ask for fewer calls at once`
      : measure.depth > limits.maxArgumentDepth
        ? `nest ${measure.depth} levels deep; the limit is ${limits.maxArgumentDepth}`
        : (measure.values ?? 0) > limits.maxArgumentValues
          ? `hold about ${measure.values} values; the limit is ${limits.maxArgumentValues}`
          : `are ${measure.bytes} bytes of JSON; the limit is ${limits.maxArgumentBytes} bytes`;
  return {
    rule: limitRules.arguments,
    error: new KeelError('tool-invalid-input', `The arguments for "${call.name}" ${excess}. Send smaller, flatter arguments; pass large content by reference (a path or an id) rather than inline.`, {
      details: { bytes: measure.bytes, depth: measure.depth },
    }),
  };
}

function measureOf(call: ToolUseBlock): ArgumentMeasure {
  if (call.oversizedInput !== undefined) return call.oversizedInput;
  if (call.malformedInput !== undefined) return measureArgumentText(call.malformedInput);
  return measureArgumentValue(call.input);
}
