import { StringDecoder } from 'node:string_decoder';

/**
 * Input read piece by piece, never whole: `keel scan` must take a gigabyte of JSON lines or text through a pipe
 * without holding it in memory.
 */

export interface InputLine {
  /** The line without its `\n` (and without a `\r` before it); empty when `overflow`. */
  readonly text: string;
  /** The line was longer than the limit: its content was dropped up to the next newline. */
  readonly overflow: boolean;
}

/** Lines of a byte stream, each at most `maxLineBytes` long; a longer one is reported as overflow, not buffered. */
export async function* readLines(input: AsyncIterable<Buffer | string>, maxLineBytes: number): AsyncGenerator<InputLine> {
  let pieces: Buffer[] = [];
  let size = 0;
  let overflow = false;
  let sawAnything = false;
  const finish = (): InputLine => {
    const joined = overflow ? '' : Buffer.concat(pieces, size).toString('utf8');
    const line = { text: joined.endsWith('\r') ? joined.slice(0, -1) : joined, overflow };
    pieces = [];
    size = 0;
    overflow = false;
    return line;
  };
  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let offset = 0;
    while (offset < bytes.length) {
      sawAnything = true;
      const newline = bytes.indexOf(10, offset);
      const end = newline === -1 ? bytes.length : newline;
      if (!overflow) {
        if (size + end - offset > maxLineBytes) overflow = true;
        else {
          pieces.push(bytes.subarray(offset, end));
          size += end - offset;
        }
      }
      if (newline === -1) break;
      yield finish();
      sawAnything = false;
      offset = newline + 1;
    }
  }
  if (sawAnything) yield finish();
}

/** One block of a text read in blocks, and where it starts in the whole text (UTF-16 units). */
export interface TextBlock {
  readonly text: string;
  readonly offset: number;
}

/**
 * The input as consecutive text blocks of about `blockChars` characters, cut after a newline where there is one in
 * the block's last quarter (so a sentence is rarely split), never splitting a UTF-8 sequence.
 */
export async function* readBlocks(input: AsyncIterable<Buffer | string>, blockChars: number): AsyncGenerator<TextBlock> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let offset = 0;
  const cut = (): TextBlock => {
    let end = blockChars;
    const newline = pending.lastIndexOf('\n', blockChars - 1);
    if (newline >= blockChars * 0.75) end = newline + 1;
    else if (isHighSurrogate(pending.charCodeAt(end - 1))) end -= 1;
    const block = { text: pending.slice(0, end), offset };
    pending = pending.slice(end);
    offset += end;
    return block;
  };
  for await (const chunk of input) {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    while (pending.length >= blockChars) yield cut();
  }
  pending += decoder.end();
  while (pending.length > blockChars) yield cut();
  if (pending.length > 0 || offset === 0) yield { text: pending, offset };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
