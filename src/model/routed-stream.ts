import { KeelError } from '../errors/index.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import type { RoutedCallOptions, RoutedCallResult, RoutedModel } from './route-types.ts';

export interface RoutedCore {
  readonly provider: string;
  readonly modelId: string;
  readonly call: (request: ModelRequest, options: RoutedCallOptions) => Promise<RoutedCallResult>;
  readonly countTokens?: Model['countTokens'];
}

/** Parts kept waiting for a slow consumer at most; past it the producer is far ahead and the stream fails. */
const maxQueuedParts = 100_000;

/**
 * The Model methods of a routed call: `generate` is a plain call; `stream` yields the parts of the attempt that answers
 * (a failed attempt's parts never reach the consumer once another attempt starts, since a consumer cannot take parts back,
 * a stream that has yielded fails with its attempt instead of moving on).
 */
export function routedModelMethods(core: RoutedCore): RoutedModel {
  return {
    routed: true,
    provider: core.provider,
    modelId: core.modelId,
    ...(core.countTokens === undefined ? {} : { countTokens: core.countTokens }),
    call: core.call,
    async generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse> {
      return (await core.call(request, { signal, streaming: false })).response;
    },
    stream: (request: ModelRequest, signal: AbortSignal) => streamFromCall(core, request, signal),
  };
}

async function* streamFromCall(core: RoutedCore, request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelStreamPart> {
  const queue: ModelStreamPart[] = [];
  let wake: (() => void) | undefined;
  let yieldedAttempt: number | undefined;
  let failure: KeelError | undefined;
  let done = false;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const onPart = (part: ModelStreamPart, attempt: number): void => {
    if (part.type === 'finish') return;
    if (yieldedAttempt !== undefined && attempt !== yieldedAttempt) {
      failure ??= new KeelError('model-stream-cut', `The stream of ${core.modelId} broke after parts were delivered; the call can be retried.`);
      notify();
      return;
    }
    yieldedAttempt = attempt;
    if (queue.length >= maxQueuedParts) {
      failure ??= new KeelError('internal', `The consumer of ${core.modelId}'s stream fell ${maxQueuedParts} parts behind.`);
    } else {
      queue.push(part);
    }
    notify();
  };
  const finished = core.call(request, { signal, streaming: true, onPart }).then(
    (result) => {
      done = true;
      notify();
      return result;
    },
    (error: unknown) => {
      done = true;
      notify();
      throw error;
    },
  );
  // Settled rejections are read below; this keeps an early consumer exit from leaving one unhandled.
  finished.catch(() => undefined);
  for (;;) {
    const part = queue.shift();
    if (part !== undefined) {
      yield part;
      continue;
    }
    if (failure !== undefined) throw failure;
    if (done) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
  }
  if (failure !== undefined) throw failure;
  const { response } = await finished;
  yield { type: 'finish', response };
}
