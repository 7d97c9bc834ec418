/**
 * Text a model produced (tool names, arguments, replies) ends up quoted in error messages, which travel to the journal,
 * the audit log and the model's next request. Quoting it whole would let one reply of megabytes be copied into each of
 * them, so every such quote goes through `boundText`.
 */

/** Characters of model text an error message quotes by default. */
export const quotedTextLimit = 200;

/**
 * The first `limit` characters of `text`, then `… (N bytes omitted)` when there was more, N counting UTF-8 bytes.
 * A surrogate pair is never split, so the result is always well-formed where the input was.
 */
export function boundText(text: string, limit: number = quotedTextLimit): string {
  if (text.length <= limit) return text;
  let end = Math.max(0, limit);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}… (${utf8ByteLength(text, end)} bytes omitted)`;
}

/** UTF-8 bytes of `text` from `start` on; a lone surrogate counts as its 3-byte replacement character. */
export function utf8ByteLength(text: string, start = 0): number {
  return Buffer.byteLength(start === 0 ? text : text.slice(start), 'utf8');
}
