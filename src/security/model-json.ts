/** The longest model answer scanned for a JSON object; a verifier or reader answer is a few hundred characters. */
export const maxAnswerChars = 64 * 1024;

/** Opening braces tried before giving up: each try may scan to the end, so the count bounds the work to a few passes. */
const maxCandidates = 16;

/** How much of an answer to read: callers whose objects are larger (a plan) pass their own bound. */
export interface JsonObjectOptions {
  /** The longest answer read, in characters; `maxAnswerChars` unless given. */
  readonly maxChars?: number;
}

export type JsonObjectResult = { readonly ok: true; readonly value: Record<string, unknown> } | { readonly ok: false; readonly problem: string };

/**
 * The first JSON object in a model's text answer. Models wrap JSON in prose or a Markdown fence however they are
 * told, so the object is found by one linear scan (strings and escapes tracked) instead of requiring the whole
 * answer to be JSON. The text is cut at the limit (`maxAnswerChars` by default), so no answer costs more than that to
 * read; an object the cut leaves open is refused as an answer over the limit, not as broken JSON.
 */
export function firstJsonObject(text: string, options: JsonObjectOptions = {}): JsonObjectResult {
  const limit = options.maxChars ?? maxAnswerChars;
  const cut = text.length > limit;
  const bounded = cut ? text.slice(0, limit) : text;
  let start = bounded.indexOf('{');
  for (let tried = 0; start >= 0 && tried < maxCandidates; tried += 1) {
    const end = matchingBrace(bounded, start);
    if (end < 0) {
      return { ok: false, problem: cut ? `the answer is ${text.length} characters, over the limit of ${limit}, and its JSON object does not end within the limit` : 'the answer has a "{" that is never closed' };
    }
    try {
      const value: unknown = JSON.parse(bounded.slice(start, end + 1));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return { ok: true, value: value as Record<string, unknown> };
    } catch {
      // Prose with braces before the object: look at the next "{".
    }
    start = bounded.indexOf('{', start + 1);
  }
  return { ok: false, problem: start >= 0 ? `no JSON object among the first ${maxCandidates} candidates` : 'the answer holds no JSON object' };
}

/** Index of the brace closing the one at `start`, or -1; braces inside strings do not count. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let index = start; index < text.length; index += 1) {
    const char = text[index];
    if (inString) {
      if (char === '\\') index += 1;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    else if (char === '{') depth += 1;
    else if (char === '}') {
      depth -= 1;
      if (depth === 0) return index;
    }
  }
  return -1;
}

/** The text blocks of an answer, joined. */
export function answerText(content: readonly { readonly type: string; readonly text?: string }[]): string {
  return content.flatMap((block) => (block.type === 'text' && typeof block.text === 'string' ? [block.text] : [])).join('');
}
