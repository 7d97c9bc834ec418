import { KeelError } from '../errors/index.ts';
import type { ContentBlock, ToolUseBlock } from '../spec/message.ts';
import type { ModelResponse } from '../spec/model.ts';
import { boundText, canonicalJson, quotedTextLimit, defaultToolCallLimits, exceedsArgumentLimits, measureArgumentText, utf8ByteLength } from '../util/index.ts';
import type { ArgumentMeasure, ToolCallLimits } from '../util/index.ts';

/**
 * Tool arguments arrive as JSON text that models sometimes get wrong (truncated by max_tokens, stray
 * characters). A bad argument string is the model's mistake, not a crash: the loop reports it back to the
 * model as a tool error, so parsing never throws.
 */
export interface ParsedToolArguments {
  readonly input: unknown;
  readonly malformedInput?: string;
  readonly oversizedInput?: ArgumentMeasure;
}

/**
 * With `limits`, text over them is measured and refused before it is parsed. Providers parse without: JSON.parse does
 * not recurse, and the gateway bounds every response with the limits it was configured with (`boundModelResponse`).
 */
export function parseToolArguments(text: string, limits?: ToolCallLimits): ParsedToolArguments {
  // Both providers send an empty string for a call without arguments.
  if (text.trim() === '') return { input: {} };
  if (limits !== undefined) {
    const measure = measureArgumentText(text);
    if (exceedsArgumentLimits(measure, limits)) return oversized(text, measure);
  }
  try {
    const input: unknown = JSON.parse(text);
    // Tool input is always a JSON object; anything else is as unusable as broken JSON.
    if (input !== null && typeof input === 'object' && !Array.isArray(input)) return { input };
  } catch {
    // Falls through to the malformed result.
  }
  return { input: {}, malformedInput: text };
}

/**
 * The most nesting a limit may allow. Past the gateway, arguments meet recursive code Keel does not own (V8's
 * JSON.stringify and structuredClone overflow near 3,000 levels, schema validators, SDK serialisers); this keeps them a
 * safe distance away, so no configuration can reopen the overflow the limit closes.
 */
export const maxConfigurableArgumentDepth = 1_000;

/** Limits given in part, with the defaults for the rest; each must be a positive integer. */
export function toolCallLimitsFrom(limits: Partial<ToolCallLimits> = {}): ToolCallLimits {
  const resolved = { ...defaultToolCallLimits, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new KeelError('invalid-config', `Tool call limit ${name} must be a positive integer, got ${String(value)}.`);
  }
  if (resolved.maxArgumentDepth > maxConfigurableArgumentDepth) {
    throw new KeelError('invalid-config', `Tool call limit maxArgumentDepth may be at most ${maxConfigurableArgumentDepth}, got ${resolved.maxArgumentDepth}: deeper arguments overflow the recursive serialisers they meet later.`);
  }
  return resolved;
}

/**
 * A response whose tool calls fit the limits: a name over the length limit is cut to a bounded quote (no tool can have
 * that name, so the call is refused as unknown), and arguments over the size or depth limit are replaced by `{}` with
 * a bounded preview and their measure (`oversizedInput`), so the call is refused with numbers the model can act on.
 * Applied where responses enter Keel, before the journal, whose serialiser would overflow on deep arguments.
 */
export function boundModelResponse(response: ModelResponse, limits: ToolCallLimits = defaultToolCallLimits): ModelResponse {
  refuseRepeatedCallIds(response.content);
  for (const block of response.content) if (block.type === 'hosted_tool') refuseDeepHostedData(block);
  let changed = false;
  // The message's calls share one budget, so a message of many calls each under the limit cannot flood the journal.
  let messageBytes = 0;
  const content = response.content.map((block): ContentBlock => {
    if (block.type !== 'tool_use') return block;
    let bounded = boundToolUse(block, limits);
    if (bounded.oversizedInput === undefined) {
      const bytes = utf8ByteLength(bounded.malformedInput ?? canonicalJson(bounded.input) ?? '');
      messageBytes += bytes;
      if (messageBytes > limits.maxMessageArgumentBytes) {
        bounded = { ...bounded, input: {}, malformedInput: boundText(bounded.malformedInput ?? canonicalJson(bounded.input) ?? ''), oversizedInput: { bytes, depth: 0, messageBytes } };
      }
    }
    if (bounded !== block) changed = true;
    return bounded;
  });
  return changed ? { ...response, content } : response;
}

/**
 * Every later step keys a call by its id (the journal's tool-request, the decision, the result sent back), so two calls
 * of one message under one id would run one call twice and drop the other. Such a response is refused, not repaired:
 * which call the model meant under the id is unknowable.
 */
function refuseRepeatedCallIds(content: readonly ContentBlock[]): void {
  const seen = new Set<string>();
  for (const block of content) {
    if (block.type !== 'tool_use') continue;
    if (seen.has(block.id)) {
      throw new KeelError('model-malformed-response', `The model's response names two tool calls by the same id "${boundText(block.id)}"; the response was refused so that neither call runs in the other's place.`, { details: { callId: boundText(block.id) } });
    }
    seen.add(block.id);
  }
}

/**
 * A hosted tool's result (web search, code execution, citations) is kept as the provider sent it, to be sent back;
 * nesting past what any serialiser survives is refused before it reaches the journal.
 */
function refuseDeepHostedData(block: Extract<ContentBlock, { type: 'hosted_tool' }>): void {
  const measure = measureArgumentText(canonicalJson(block.data) ?? '');
  if (measure.depth > maxConfigurableArgumentDepth) {
    throw new KeelError('model-malformed-response', `The model's response has a ${block.name ?? block.kind} result nested ${measure.depth} levels deep (at most ${maxConfigurableArgumentDepth} are accepted); it was refused before it reached the journal.`, {
      details: { tool: block.name ?? block.kind, depth: measure.depth },
    });
  }
}

/**
 * Text up to this length is kept as it is: a `boundText` quote is never longer, so bounding a response twice changes
 * nothing, and a name just over the limit reaches the pipeline whole, to be refused by its length.
 */
const keptTextLength = quotedTextLimit + 64;

/** Provider call ids are a few dozen characters; a longer one would be copied into every later request and event. */
export const maxToolCallIdLength = 256;

export function boundToolUse(block: ToolUseBlock, limits: ToolCallLimits = defaultToolCallLimits): ToolUseBlock {
  if (block.id.length > maxToolCallIdLength) {
    throw new KeelError('model-malformed-response', `The model's response names a tool call by an id of ${block.id.length} characters ("${boundText(block.id)}"); ids longer than ${maxToolCallIdLength} are not accepted.`);
  }
  const name = block.name.length > Math.max(limits.maxNameLength, keptTextLength) ? boundText(block.name) : block.name;
  const arguments_ = boundArguments(block, limits);
  if (name === block.name && arguments_ === null) return block;
  return { ...block, name, ...(arguments_ ?? {}) };
}

function boundArguments(block: ToolUseBlock, limits: ToolCallLimits): Pick<ToolUseBlock, 'input' | 'malformedInput' | 'oversizedInput'> | null {
  if (block.oversizedInput !== undefined) {
    // Bounded before (by a provider's parser); only a preview that is still long needs cutting.
    const preview = block.malformedInput ?? '';
    return preview.length > keptTextLength ? { input: {}, malformedInput: boundText(preview), oversizedInput: block.oversizedInput } : null;
  }
  if (block.malformedInput !== undefined) {
    const measure = measureArgumentText(block.malformedInput);
    return exceedsArgumentLimits(measure, limits) ? oversized(block.malformedInput, measure) : null;
  }
  // canonicalJson keeps its own stack, so even arguments 100,000 levels deep are measured, not overflowed on.
  const text = canonicalJson(block.input) ?? '';
  const measure = measureArgumentText(text);
  return exceedsArgumentLimits(measure, limits) ? oversized(text, measure) : null;
}

function oversized(text: string, measure: ArgumentMeasure): ParsedToolArguments {
  return { input: {}, malformedInput: boundText(text), oversizedInput: { bytes: measure.bytes, depth: measure.depth, ...(measure.values === undefined ? {} : { values: measure.values }) } };
}
