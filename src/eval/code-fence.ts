/**
 * Markdown code fences in model answers, found by scanning instead of a regular expression. A fence pattern such as
 * /```(?:json)?\s*\n([^`]*)```/ lets `\s*` and the body both take line breaks, so an answer of "```" and thousands
 * of line breaks makes the engine try every split of them: quadratic work that holds the event loop for seconds on
 * 50 KB. These scans read each character a bounded number of times.
 */

const fence = '```';

function isWhitespace(char: string): boolean {
  // The characters of \s, tested one at a time (a one-character pattern cannot backtrack).
  return /\s/.test(char);
}

/**
 * Where the body of a fence opened at `open` begins: after "```", an optional "json" tag, and a run of whitespace
 * that holds a line break (the body starts after the run's last one, as a greedy `\s*\n` would place it); -1 when
 * the text there does not open a fence. Reads only the tag and the whitespace run.
 */
function bodyStart(text: string, open: number): number {
  let index = open + fence.length;
  if (text.startsWith('json', index)) index += 'json'.length;
  let lastBreak = -1;
  for (; index < text.length; index += 1) {
    const char = text[index] as string;
    if (!isWhitespace(char)) break;
    if (char === '\n') lastBreak = index;
  }
  return lastBreak < 0 ? -1 : lastBreak + 1;
}

/**
 * The body of the first ``` or ```json fence whose body holds no backtick and is closed by "```", as
 * /```(?:json)?\s*\n([^`]*)```/ would find it; null when there is none. Linear: a fence that fails ends at the next
 * backtick, and no later candidate reads the body it read.
 */
export function firstFenceBody(text: string): string | null {
  for (let open = text.indexOf(fence); open >= 0; open = text.indexOf(fence, open + 1)) {
    const start = bodyStart(text, open);
    if (start < 0) continue;
    const tick = text.indexOf('`', start);
    if (tick < 0) return null;
    if (text.startsWith(fence, tick)) return text.slice(start, tick);
  }
  return null;
}

/**
 * The body of a text that is one fence from start to end ("```json\n…\n```"), without the line break before the
 * closing "```", as /^```(?:json)?\s*\n([\s\S]*?)\n?```$/ would take it; null when the text is not one fence.
 */
export function wholeFenceBody(text: string): string | null {
  if (!text.startsWith(fence) || !text.endsWith(fence)) return null;
  const start = bodyStart(text, 0);
  const end = text.length - fence.length;
  if (start < 0 || start > end) return null;
  const body = text.slice(start, end);
  return body.endsWith('\n') ? body.slice(0, -1) : body;
}
