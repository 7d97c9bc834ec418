import type { Readable } from 'node:stream';

/**
 * Keeps the last characters a server wrote to stderr. MCP says stderr is free-form logging and not an error signal,
 * so it is never surfaced on its own; it is only attached to `mcp-unavailable` errors, where the last lines usually
 * say why the server died. Reading the stream also matters: an unread pipe fills and blocks the child.
 */
export class StderrTail {
  private text = '';
  private attached = false;
  private ended = false;
  private readonly endWaiters: (() => void)[] = [];

  private readonly maxChars: number;
  constructor(maxChars = 4_000) {
    this.maxChars = maxChars;
  }

  attach(stream: Readable): void {
    this.attached = true;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.text = (this.text + chunk).slice(-this.maxChars);
    });
    const finish = (): void => {
      this.ended = true;
      for (const resolve of this.endWaiters.splice(0)) resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  }

  /** The kept text, trimmed; empty when the server wrote nothing. */
  current(): string {
    return this.text.trim();
  }

  /**
   * Waits until the stream has ended or `waitMs` has passed. A process's exit can be reported a moment before
   * its last stderr bytes have been piped through, and those bytes are the ones that explain the exit.
   */
  async settled(waitMs = 250): Promise<string> {
    if (this.attached && !this.ended) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        timer.unref?.();
        this.endWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.current();
  }
}
