/** What `addEventListener` is given for every input: one object, not one per link. */
const once = { once: true } as const;

/**
 * The state of one linked signal. It is itself the listener on its inputs (`handleEvent`) and its timer's argument,
 * so linking makes no closure per input: a link is made for every model call and tool call.
 */
class Link {
  readonly controller = new AbortController();
  readonly inputs: AbortSignal[] = [];
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  timeoutMs = 0;
  timeoutReason: (() => unknown) | undefined = undefined;

  handleEvent(event: Event): void {
    this.controller.abort((event.target as AbortSignal).reason);
  }

  dispose(): void {
    for (const input of this.inputs) input.removeEventListener('abort', this);
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}

function timedOut(link: Link): void {
  link.controller.abort(link.timeoutReason?.() ?? new Error(`Timed out after ${link.timeoutMs} ms`));
}

/** `dispose` as a function that can be passed around on its own. */
function disposerOf(link: Link): () => void {
  return () => link.dispose();
}

/** A signal that aborts when any input aborts or after `timeoutMs`; `dispose` releases the timer and listeners. */
export function linkedSignal(
  signals: readonly (AbortSignal | undefined)[],
  timeoutMs?: number,
  timeoutReason?: () => unknown,
): { signal: AbortSignal; dispose: () => void } {
  const link = new Link();
  const signal = link.controller.signal;
  for (const input of signals) {
    if (input === undefined) continue;
    if (input.aborted) {
      link.controller.abort(input.reason);
      break;
    }
    input.addEventListener('abort', link, once);
    link.inputs.push(input);
  }
  if (timeoutMs !== undefined && !signal.aborted) {
    link.timeoutMs = timeoutMs;
    link.timeoutReason = timeoutReason;
    link.timer = setTimeout(timedOut, timeoutMs, link);
    link.timer.unref?.();
  }
  return { signal, dispose: disposerOf(link) };
}
