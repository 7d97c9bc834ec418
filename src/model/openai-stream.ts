import { KeelError } from '../errors/index.ts';
import type { ContentBlock } from '../spec/message.ts';
import type { ModelStreamPart } from '../spec/model.ts';
import { mapOpenAIFinishReason, mapOpenAIUsage } from './openai-response.ts';
import type { OpenAIUsageShape } from './openai-response.ts';
import { parseToolArguments } from './tool-arguments.ts';

/** One `chat.completion.chunk`, typed loosely: compatible servers add fields and leave some out. */
export interface OpenAIChunkShape {
  readonly id?: string;
  readonly model?: string;
  readonly choices?: readonly { readonly index?: number; readonly delta?: OpenAIDeltaShape; readonly finish_reason?: string | null }[];
  readonly usage?: OpenAIUsageShape | null;
}

interface OpenAIDeltaShape {
  readonly content?: string | null;
  readonly refusal?: string | null;
  readonly reasoning_content?: string | null;
  readonly reasoning?: string | null;
  readonly tool_calls?: readonly { readonly index: number; readonly id?: string; readonly function?: { readonly name?: string; readonly arguments?: string } }[] | null;
  readonly function_call?: { readonly name?: string; readonly arguments?: string } | null;
  readonly annotations?: readonly Readonly<Record<string, unknown>>[] | null;
}

interface ToolCallState {
  id: string;
  name: string;
  arguments: string;
  ordinal: number;
  started: boolean;
}

export interface OpenAIStreamOptions {
  readonly modelId: string;
  readonly provider: string;
  /** OpenAI always sends the usage chunk that `include_usage` asks for, so its absence means the stream was cut; some compatible servers never send it. */
  readonly requireUsage: boolean;
}

/** The key the legacy `function_call` delta is kept under, apart from the indexed tool calls. */
const legacyFunctionKey = -1;

/**
 * Rebuilds a response from Chat Completions chunks while forwarding live parts. Argument fragments are joined
 * per tool-call index; a call's start part waits until its name is known. A stream without a finish reason
 * (or, from OpenAI itself, without the usage chunk) was cut and fails with the retryable `model-stream-cut`.
 */
export async function* assembleOpenAIStream(chunks: AsyncIterable<OpenAIChunkShape>, options: OpenAIStreamOptions): AsyncGenerator<ModelStreamPart> {
  let id = '';
  let model = options.modelId;
  let text = '';
  let reasoning = '';
  let refusal: string | null = null;
  let finishReason: string | null = null;
  let usage: OpenAIUsageShape | undefined;
  const calls = new Map<number, ToolCallState>();
  const annotations: Readonly<Record<string, unknown>>[] = [];

  for await (const chunk of chunks) {
    if (typeof chunk.id === 'string' && chunk.id !== '') id = chunk.id;
    if (typeof chunk.model === 'string' && chunk.model !== '') model = chunk.model;
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
    const choice = chunk.choices?.find((candidate) => (candidate.index ?? 0) === 0);
    if (choice === undefined) continue;
    const delta = choice.delta ?? {};
    const thinking = delta.reasoning_content ?? delta.reasoning;
    if (typeof thinking === 'string' && thinking !== '') {
      reasoning += thinking;
      yield { type: 'thinking-delta', text: thinking };
    }
    if (typeof delta.content === 'string' && delta.content !== '') {
      text += delta.content;
      yield { type: 'text-delta', text: delta.content };
    }
    if (typeof delta.refusal === 'string') {
      refusal = (refusal ?? '') + delta.refusal;
      if (delta.refusal !== '') yield { type: 'text-delta', text: delta.refusal };
    }
    for (const fragment of delta.tool_calls ?? []) {
      yield* applyToolFragment(calls, fragment.index, fragment.id, fragment.function?.name, fragment.function?.arguments, id);
    }
    if (delta.function_call !== undefined && delta.function_call !== null) {
      yield* applyToolFragment(calls, legacyFunctionKey, `${id}-function-call`, delta.function_call.name, delta.function_call.arguments, id);
    }
    // Web search citations, bounded: a hostile server could send an endless trickle of them.
    if (Array.isArray(delta.annotations) && annotations.length < 1_000) annotations.push(...delta.annotations.slice(0, 1_000 - annotations.length));
    if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
  }

  if (finishReason === null || (options.requireUsage && usage === undefined)) {
    const missing = finishReason === null ? 'a finish reason' : 'the usage chunk';
    throw new KeelError('model-stream-cut', `The ${options.provider === 'openai' ? 'OpenAI' : 'OpenAI-compatible'} stream for ${options.modelId} ended without ${missing}; the call can be retried.`, {
      details: { provider: options.provider, model: options.modelId, responseId: id },
    });
  }

  const content: ContentBlock[] = [];
  if (reasoning !== '') content.push({ type: 'thinking', thinking: reasoning });
  if (text !== '') content.push({ type: 'text', text });
  if (refusal !== null) content.push({ type: 'text', text: refusal });
  if (annotations.length > 0) content.push({ type: 'hosted_tool', provider: 'openai', kind: 'annotations', name: 'web_search', data: { annotations } });
  for (const call of [...calls.values()].sort((left, right) => left.ordinal - right.ordinal)) {
    content.push({ type: 'tool_use', id: call.id, name: call.name, ...parseToolArguments(call.arguments) });
  }
  yield {
    type: 'finish',
    response: { id, model, content, stopReason: mapOpenAIFinishReason(finishReason, refusal !== null, content), providerStopReason: finishReason, usage: mapOpenAIUsage(usage) },
  };
}

function* applyToolFragment(
  calls: Map<number, ToolCallState>,
  key: number,
  callId: string | undefined,
  name: string | undefined,
  argumentsFragment: string | undefined,
  responseId: string,
): Generator<ModelStreamPart> {
  let call = calls.get(key);
  if (call === undefined) {
    call = { id: '', name: '', arguments: '', ordinal: calls.size, started: false };
    calls.set(key, call);
  }
  if (typeof callId === 'string' && callId !== '') call.id = callId;
  if (typeof name === 'string' && name !== '' && call.name === '') call.name = name;
  const fragment = argumentsFragment ?? '';
  call.arguments += fragment;
  if (!call.started) {
    if (call.name === '') return;
    // A server that omits the id still needs a stable one: derived, never random, so replays agree.
    if (call.id === '') call.id = `${responseId}-call-${call.ordinal}`;
    call.started = true;
    yield { type: 'tool-call-start', index: call.ordinal, id: call.id, name: call.name };
    if (call.arguments !== '') yield { type: 'tool-call-delta', index: call.ordinal, argumentsDelta: call.arguments };
    return;
  }
  if (fragment !== '') yield { type: 'tool-call-delta', index: call.ordinal, argumentsDelta: fragment };
}

/** How long a stream that sent its finish reason may take to end its body before it is ended here. */
export const finishedStreamGraceMs = 2_000;

export interface EndAfterFinishOptions {
  readonly graceMs: number;
  /** Stops the underlying request; a pending read then fails, and that failure is dropped. */
  readonly abort: () => void;
}

/**
 * Ends a chunk stream `graceMs` after its finish reason when the body itself does not end. The SDK's stream waits
 * for the end of the body, so a proxy holding a finished stream open (keep-alive comments after `[DONE]`) would
 * otherwise keep a complete, paid answer waiting forever. A stream that ends in time is read to its end as before.
 */
export async function* endAfterFinish(chunks: AsyncIterable<OpenAIChunkShape>, options: EndAfterFinishOptions): AsyncGenerator<OpenAIChunkShape> {
  const iterator = chunks[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let graceOver: Promise<'grace-over'> | null = null;
  let abandoned = false;
  try {
    for (;;) {
      const next = iterator.next();
      const result = graceOver === null ? await next : await Promise.race([next, graceOver]);
      if (result === 'grace-over') {
        abandoned = true;
        next.catch(() => undefined);
        options.abort();
        return;
      }
      if (result.done === true) return;
      yield result.value;
      if (graceOver === null && result.value.choices?.some((choice) => typeof choice.finish_reason === 'string') === true) {
        graceOver = new Promise((resolve) => {
          timer = setTimeout(() => resolve('grace-over'), options.graceMs);
        });
      }
    }
  } finally {
    clearTimeout(timer);
    // An async generator's return() waits behind a pending read, so an abandoned stream is only aborted.
    if (!abandoned) await iterator.return?.();
  }
}
