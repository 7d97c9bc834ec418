import { KeelError } from '../errors/index.ts';
import type { ContentBlock } from '../spec/message.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import type { StopReason } from '../spec/stop-reason.ts';
import type { Usage } from '../spec/usage.ts';
import { cancellationError } from './provider-errors.ts';
import { parseScript, readScriptFile } from './scripted-script.ts';
import { boundModelResponse } from './tool-arguments.ts';
import type { ScriptedResponse, ScriptedResponseInput } from './scripted-script.ts';

export interface ScriptedModelOptions {
  /** Reported as the model's id and as the response's model when an entry names none. Defaults to `scripted`. */
  readonly modelId?: string;
  /** Where the script came from, for error messages. */
  readonly source?: string;
}

/**
 * A model that plays a script of Anthropic-format assistant messages, for tests, demos and offline runs.
 * The entry played is the number of assistant messages already in the request, so a session that crashes
 * and resumes gets the same answer for the same turn. Responses name their `model` (for example
 * `claude-sonnet-4-5`) so that cost is priced as that model would be.
 * @example
 * ```ts
 * const model = createScriptedModel([
 *   { content: [{ type: 'tool_use', name: 'lookup_order', input: { orderId: '1042' } }] },
 *   { content: [{ type: 'text', text: 'Order 1042 shipped on Monday.' }], model: 'claude-sonnet-4-6' },
 * ]);
 * const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
 * const { output } = await keel.run(agent, 'Where is order 1042?').result;
 * expect(output).toBe('Order 1042 shipped on Monday.');
 * ```
 */
export function createScriptedModel(responses: readonly ScriptedResponseInput[], options: ScriptedModelOptions = {}): Model {
  const source = options.source ?? '(inline script)';
  const script = parseScript(responses, source);
  const modelId = options.modelId ?? 'scripted';

  function respond(request: ModelRequest, signal: AbortSignal): ModelResponse {
    if (signal.aborted) throw cancellationError(signal);
    const index = request.messages.filter((message) => message.role === 'assistant').length;
    const entry = script[index];
    if (entry === undefined) {
      throw new KeelError(
        'invalid-config',
        `Scripted model ${source}: the script has ${script.length} response${script.length === 1 ? '' : 's'}; the session asked for response ${index + 1}. Add responses to the script.`,
        { details: { source, responses: script.length, requested: index + 1 } },
      );
    }
    // Bounded here as a gateway would: the stream below serialises the arguments, which deep nesting would overflow.
    return boundModelResponse(toResponse(entry, index, request, modelId));
  }

  return {
    provider: 'scripted',
    modelId,
    async generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse> {
      return respond(request, signal);
    },
    async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelStreamPart> {
      const response = respond(request, signal);
      let toolIndex = 0;
      for (const block of response.content) {
        if (signal.aborted) throw cancellationError(signal);
        if (block.type === 'text') for (const piece of split(block.text)) yield { type: 'text-delta', text: piece };
        if (block.type === 'thinking') for (const piece of split(block.thinking)) yield { type: 'thinking-delta', text: piece };
        if (block.type === 'tool_use') {
          yield { type: 'tool-call-start', index: toolIndex, id: block.id, name: block.name };
          for (const piece of split(JSON.stringify(block.input))) yield { type: 'tool-call-delta', index: toolIndex, argumentsDelta: piece };
          toolIndex += 1;
        }
      }
      yield { type: 'finish', response };
    },
  };
}

/** `createScriptedModel` over a JSON file; a missing, unparsable or invalid file is an `invalid-config` error. */
export function loadScriptedModel(filePath: string, options: Omit<ScriptedModelOptions, 'source'> = {}): Model {
  return createScriptedModel(readScriptFile(filePath), { ...options, source: filePath });
}

function toResponse(entry: ScriptedResponse, index: number, request: ModelRequest, modelId: string): ModelResponse {
  let toolNumber = 0;
  const content = entry.content.map((block): ContentBlock => {
    if (block.type === 'tool_use') {
      toolNumber += 1;
      // Derived ids, never random ones: a replayed or resumed session must see the same ids.
      return { type: 'tool_use', id: block.id ?? `toolu_scripted_${index + 1}_${toolNumber}`, name: block.name, input: block.input };
    }
    if (block.type === 'thinking') return { type: 'thinking', thinking: block.thinking, ...(block.signature === undefined ? {} : { signature: block.signature }) };
    return { type: 'text', text: block.text };
  });
  const providerStopReason = entry.stop_reason ?? (content.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn');
  const stopReason: StopReason = providerStopReason === 'model_context_window_exceeded' ? 'context_window_exceeded' : providerStopReason;
  return {
    id: entry.id ?? `msg_scripted_${index + 1}`,
    model: entry.model ?? modelId,
    content,
    stopReason,
    providerStopReason,
    usage: entry.usage === undefined ? estimateUsage(request, content) : {
      inputTokens: entry.usage.input_tokens,
      outputTokens: entry.usage.output_tokens,
      cacheReadTokens: entry.usage.cache_read_input_tokens ?? 0,
      cacheWriteTokens: entry.usage.cache_creation_input_tokens ?? 0,
    },
  };
}

/**
 * When a script gives no usage, tokens are estimated at one per four characters of the serialized request and
 * content: an estimate, good enough for budgets and cost guards in tests, not a tokenizer count.
 */
export function estimateUsage(request: ModelRequest, content: readonly ContentBlock[]): Usage {
  const prompt = JSON.stringify({ system: request.system ?? '', messages: request.messages, tools: request.tools });
  return {
    inputTokens: Math.ceil(prompt.length / 4),
    outputTokens: Math.ceil(JSON.stringify(content).length / 4),
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
  };
}

/** Splits text into up to three pieces, so that streaming consumers see real deltas. */
function split(text: string): string[] {
  if (text.length < 3) return text === '' ? [] : [text];
  const size = Math.ceil(text.length / 3);
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size));
  return pieces;
}
