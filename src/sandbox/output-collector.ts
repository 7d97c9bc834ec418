const latestBytes = 4_096;

/**
 * Keeps the first `limitBytes` of a stream and counts the rest. Reading goes on past the limit so that a chatty job
 * never blocks on a full pipe (it would then look like a timeout instead of what it is).
 */
export class OutputCollector {
  private readonly chunks: Buffer[] = [];
  private keptBytes = 0;
  private totalBytes = 0;
  /** The latest bytes, kept apart from the cut text: a fatal error is printed last, often after a flood. */
  private latest: Buffer = Buffer.alloc(0);

  private readonly limitBytes: number;
  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  add(chunk: Buffer | string): void {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.totalBytes += buffer.length;
    this.latest = Buffer.concat([this.latest, buffer]);
    if (this.latest.length > latestBytes) this.latest = this.latest.subarray(this.latest.length - latestBytes);
    const room = this.limitBytes - this.keptBytes;
    if (room <= 0) return;
    const kept = buffer.length <= room ? buffer : buffer.subarray(0, room);
    this.chunks.push(kept);
    this.keptBytes += kept.length;
  }

  get droppedBytes(): number {
    return this.totalBytes - this.keptBytes;
  }

  /** The kept text, and when bytes were dropped a marker that says how many, so nobody mistakes it for the whole. */
  text(): string {
    let text = Buffer.concat(this.chunks).toString('utf8');
    if (this.droppedBytes === 0) return text;
    // A cut through a multi-byte character decodes as U+FFFD; drop it rather than show a character that was not there.
    if (text.endsWith('\uFFFD')) text = text.slice(0, -1);
    return `${text}\n[output cut: ${this.droppedBytes} more bytes over the limit of ${this.limitBytes} bytes (outputBytes)]`;
  }

  /** The last few kilobytes the stream carried, whether kept or not: for diagnosis and error messages. */
  tail(): string {
    return this.latest.toString('utf8');
  }
}
