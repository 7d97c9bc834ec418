import type { ContentBlock, Message, ToolResultBlock } from '../spec/message.ts';
import type { ModelRequest, ToolSpec } from '../spec/model.ts';
import { canonicalJson } from '../util/index.ts';

/**
 * Context diff: what one model saw that the other did not, segment by segment.
 *
 * Segments: the system prompt; request settings (output tokens, temperature, stop sequences, tool
 * choice); tools, matched by name, then compared by description and input schema; messages,
 * aligned by index, compared by role, content-block types and content; and tool results, matched
 * by their tool_use id wherever they sit, so a result dropped or truncated by a context strategy
 * shows as exactly that rather than as a shifted conversation.
 */

export interface DiffLine {
  /** ' ' in both, '-' only in A, '+' only in B. */
  readonly op: ' ' | '-' | '+';
  readonly text: string;
}

export type SegmentKind = 'system' | 'settings' | 'tool' | 'message' | 'tool-result';
export type SegmentStatus = 'same' | 'changed' | 'only-a' | 'only-b';

export interface SegmentDiff {
  readonly kind: SegmentKind;
  /** Stable identity: `system`, `settings`, `tool:<name>`, `message:<index from 1>`, `tool-result:<tool_use id>`. */
  readonly key: string;
  readonly title: string;
  readonly status: SegmentStatus;
  /** Structural differences in words: `role user → assistant`, `input schema changed`. */
  readonly notes: readonly string[];
  /** Content lines: the line diff of a changed segment, or the content of a segment only one side has. */
  readonly lines: readonly DiffLine[];
}

export interface ContextDiff {
  readonly identical: boolean;
  readonly counts: { readonly same: number; readonly changed: number; readonly onlyA: number; readonly onlyB: number };
  /** Every segment of either request, in request order (system, settings, tools, messages, tool results). */
  readonly segments: readonly SegmentDiff[];
}

export function diffContexts(a: ModelRequest, b: ModelRequest): ContextDiff {
  const segments: SegmentDiff[] = [
    diffText('system', 'system', 'system prompt', a.system ?? null, b.system ?? null),
    diffSettings(a, b),
    ...diffTools(a.tools, b.tools),
    ...diffMessages(a.messages, b.messages),
    ...diffToolResults(a.messages, b.messages),
  ].filter((segment): segment is SegmentDiff => segment !== null);
  const count = (status: SegmentStatus): number => segments.filter((segment) => segment.status === status).length;
  const counts = { same: count('same'), changed: count('changed'), onlyA: count('only-a'), onlyB: count('only-b') };
  return { identical: counts.changed + counts.onlyA + counts.onlyB === 0, counts, segments };
}

function diffText(kind: SegmentKind, key: string, title: string, a: string | null, b: string | null): SegmentDiff | null {
  if (a === null && b === null) return null;
  if (a === null) return { kind, key, title, status: 'only-b', notes: [], lines: toLines(b ?? '').map((text) => ({ op: '+', text })) };
  if (b === null) return { kind, key, title, status: 'only-a', notes: [], lines: toLines(a).map((text) => ({ op: '-', text })) };
  if (a === b) return { kind, key, title, status: 'same', notes: [], lines: [] };
  return { kind, key, title, status: 'changed', notes: [], lines: diffLines(toLines(a), toLines(b)) };
}

function diffSettings(a: ModelRequest, b: ModelRequest): SegmentDiff {
  const settings = (request: ModelRequest): [string, unknown][] => [
    ['maxOutputTokens', request.maxOutputTokens],
    ['temperature', request.temperature],
    ['stopSequences', request.stopSequences],
    ['toolChoice', request.toolChoice],
  ];
  const before = settings(a).filter(([, value]) => value !== undefined).map(([name, value]) => `${name}: ${canonicalJson(value)}`);
  const after = settings(b).filter(([, value]) => value !== undefined).map(([name, value]) => `${name}: ${canonicalJson(value)}`);
  const same = before.join('\n') === after.join('\n');
  return { kind: 'settings', key: 'settings', title: 'request settings', status: same ? 'same' : 'changed', notes: [], lines: same ? [] : diffLines(before, after) };
}

function diffTools(a: readonly ToolSpec[], b: readonly ToolSpec[]): SegmentDiff[] {
  const byName = (tools: readonly ToolSpec[]): Map<string, ToolSpec> => new Map(tools.map((tool) => [tool.name, tool]));
  const inA = byName(a);
  const inB = byName(b);
  const names = [...new Set([...inA.keys(), ...inB.keys()])];
  return names.map((name): SegmentDiff => {
    const key = `tool:${name}`;
    const title = `tool ${name}`;
    const toolA = inA.get(name);
    const toolB = inB.get(name);
    if (toolB === undefined) return { kind: 'tool', key, title, status: 'only-a', notes: [], lines: toolLines(toolA as ToolSpec).map((text) => ({ op: '-', text })) };
    if (toolA === undefined) return { kind: 'tool', key, title, status: 'only-b', notes: [], lines: toolLines(toolB).map((text) => ({ op: '+', text })) };
    const notes: string[] = [];
    if (toolA.description !== toolB.description) notes.push('description changed');
    if (canonicalJson(toolA.inputSchema) !== canonicalJson(toolB.inputSchema)) notes.push('input schema changed');
    if (notes.length === 0) return { kind: 'tool', key, title, status: 'same', notes, lines: [] };
    return { kind: 'tool', key, title, status: 'changed', notes, lines: diffLines(toolLines(toolA), toolLines(toolB)) };
  });
}

function toolLines(tool: ToolSpec): string[] {
  return [...toLines(tool.description), ...prettyJson(tool.inputSchema)];
}

function diffMessages(a: readonly Message[], b: readonly Message[]): SegmentDiff[] {
  const segments: SegmentDiff[] = [];
  for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
    const messageA = a[index];
    const messageB = b[index];
    const key = `message:${index + 1}`;
    if (messageB === undefined && messageA !== undefined) {
      segments.push({ kind: 'message', key, title: `message ${index + 1} (${messageA.role}, ${blockTypes(messageA)})`, status: 'only-a', notes: [], lines: messageLines(messageA).map((text) => ({ op: '-', text })) });
      continue;
    }
    if (messageA === undefined && messageB !== undefined) {
      segments.push({ kind: 'message', key, title: `message ${index + 1} (${messageB.role}, ${blockTypes(messageB)})`, status: 'only-b', notes: [], lines: messageLines(messageB).map((text) => ({ op: '+', text })) });
      continue;
    }
    if (messageA === undefined || messageB === undefined) continue;
    const notes: string[] = [];
    if (messageA.role !== messageB.role) notes.push(`role ${messageA.role} → ${messageB.role}`);
    // Tool results are compared by id in their own segments; here only the other blocks count.
    if (blockTypes(messageA, false) !== blockTypes(messageB, false)) notes.push(`blocks [${blockTypes(messageA, false)}] → [${blockTypes(messageB, false)}]`);
    const linesA = messageLines(messageA, false);
    const linesB = messageLines(messageB, false);
    const textChanged = linesA.join('\n') !== linesB.join('\n');
    const title = `message ${index + 1} (${messageA.role === messageB.role ? messageA.role : `${messageA.role} → ${messageB.role}`}, ${blockTypes(messageA)})`;
    if (notes.length === 0 && !textChanged) {
      segments.push({ kind: 'message', key, title, status: 'same', notes, lines: [] });
      continue;
    }
    if (textChanged && notes.length === 0) notes.push('content changed');
    segments.push({ kind: 'message', key, title, status: 'changed', notes, lines: textChanged ? diffLines(linesA, linesB) : [] });
  }
  return segments;
}

interface LocatedResult {
  readonly block: ToolResultBlock;
  readonly messageIndex: number;
  readonly tool: string | null;
}

function toolResults(messages: readonly Message[]): Map<string, LocatedResult> {
  const toolNames = new Map<string, string>();
  const results = new Map<string, LocatedResult>();
  messages.forEach((message, messageIndex) => {
    for (const block of message.content) {
      if (block.type === 'tool_use') toolNames.set(block.id, block.name);
      if (block.type === 'tool_result') results.set(block.toolUseId, { block, messageIndex, tool: toolNames.get(block.toolUseId) ?? null });
    }
  });
  return results;
}

function diffToolResults(a: readonly Message[], b: readonly Message[]): SegmentDiff[] {
  const inA = toolResults(a);
  const inB = toolResults(b);
  const ids = [...new Set([...inA.keys(), ...inB.keys()])];
  return ids.map((id): SegmentDiff => {
    const resultA = inA.get(id);
    const resultB = inB.get(id);
    const key = `tool-result:${id}`;
    const tool = resultA?.tool ?? resultB?.tool ?? null;
    const title = `tool result ${id}${tool === null ? '' : ` (${tool})`}`;
    if (resultB === undefined) return { kind: 'tool-result', key, title, status: 'only-a', notes: [`in message ${(resultA as LocatedResult).messageIndex + 1} of A only`], lines: resultLines((resultA as LocatedResult).block).map((text) => ({ op: '-', text })) };
    if (resultA === undefined) return { kind: 'tool-result', key, title, status: 'only-b', notes: [`in message ${resultB.messageIndex + 1} of B only`], lines: resultLines(resultB.block).map((text) => ({ op: '+', text })) };
    const notes: string[] = [];
    if (resultA.block.isError !== resultB.block.isError) notes.push(`isError ${resultA.block.isError} → ${resultB.block.isError}`);
    if (resultA.messageIndex !== resultB.messageIndex) notes.push(`moved from message ${resultA.messageIndex + 1} to ${resultB.messageIndex + 1}`);
    const contentChanged = resultA.block.content !== resultB.block.content;
    if (contentChanged) notes.push(`content changed (${resultA.block.content.length} → ${resultB.block.content.length} characters)`);
    if (notes.length === 0) return { kind: 'tool-result', key, title, status: 'same', notes, lines: [] };
    return { kind: 'tool-result', key, title, status: 'changed', notes, lines: contentChanged ? diffLines(toLines(resultA.block.content), toLines(resultB.block.content)) : [] };
  });
}

function blockTypes(message: Message, includeResults = true): string {
  return message.content.filter((block) => includeResults || block.type !== 'tool_result').map((block) => block.type).join(', ');
}

function messageLines(message: Message, includeResults = true): string[] {
  return message.content.filter((block) => includeResults || block.type !== 'tool_result').flatMap((block) => blockLines(block));
}

function blockLines(block: ContentBlock): string[] {
  switch (block.type) {
    case 'text':
      return toLines(block.text);
    case 'thinking':
      return toLines(block.thinking).map((line) => `[thinking] ${line}`);
    case 'tool_use':
      return [`[tool_use ${block.id}] ${block.name} ${canonicalJson(block.input)}`];
    case 'tool_result':
      return [`[tool_result ${block.toolUseId}${block.isError ? ' error' : ''}: ${block.content.length} characters]`];
    case 'hosted_tool':
      return [`[hosted ${block.kind}${block.name === undefined ? '' : ` ${block.name}`}${block.id === undefined ? '' : ` ${block.id}`}]`];
  }
}

function resultLines(block: ToolResultBlock): string[] {
  return [...(block.isError ? ['[error]'] : []), ...toLines(block.content)];
}

function toLines(text: string): string[] {
  return text.split('\n');
}

/** Canonical (sorted keys) JSON, indented, as lines. */
export function prettyJson(value: unknown): string[] {
  return JSON.stringify(JSON.parse(canonicalJson(value) ?? 'null'), null, 2).split('\n');
}

/** Above this many cells the middle of a diff is shown as a whole replacement instead of an LCS. */
const maxDiffCells = 4_000_000;

/** A line diff: common prefix and suffix, then a longest-common-subsequence alignment of the middle. */
export function diffLines(a: readonly string[], b: readonly string[]): DiffLine[] {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix += 1;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) suffix += 1;
  const middleA = a.slice(prefix, a.length - suffix);
  const middleB = b.slice(prefix, b.length - suffix);
  const head: DiffLine[] = a.slice(0, prefix).map((text) => ({ op: ' ', text }));
  const tail: DiffLine[] = a.slice(a.length - suffix).map((text) => ({ op: ' ', text }));
  if (middleA.length * middleB.length > maxDiffCells) {
    return [...head, ...middleA.map((text): DiffLine => ({ op: '-', text })), ...middleB.map((text): DiffLine => ({ op: '+', text })), ...tail];
  }
  const rows = middleA.length;
  const columns = middleB.length;
  // lengths[i][j]: LCS length of middleA[i..] and middleB[j..], in one flat array.
  const lengths = new Uint32Array((rows + 1) * (columns + 1));
  const at = (i: number, j: number): number => lengths[i * (columns + 1) + j] ?? 0;
  for (let i = rows - 1; i >= 0; i -= 1) {
    for (let j = columns - 1; j >= 0; j -= 1) {
      lengths[i * (columns + 1) + j] = middleA[i] === middleB[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const middle: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < rows || j < columns) {
    if (i < rows && j < columns && middleA[i] === middleB[j]) {
      middle.push({ op: ' ', text: middleA[i] as string });
      i += 1;
      j += 1;
    } else if (i < rows && (j === columns || at(i + 1, j) >= at(i, j + 1))) {
      // Removals before additions, as diff prints them.
      middle.push({ op: '-', text: middleA[i] as string });
      i += 1;
    } else {
      middle.push({ op: '+', text: middleB[j] as string });
      j += 1;
    }
  }
  return [...head, ...middle, ...tail];
}

export interface RenderDiffOptions {
  /** Names of the two sides in the header, for example `ses_a:3`. */
  readonly labelA?: string;
  readonly labelB?: string;
  /** Unchanged lines kept around each change. Defaults to 2. */
  readonly context?: number;
  /** Content lines shown per segment before eliding. Defaults to 40. */
  readonly maxLinesPerSegment?: number;
  /** List identical segments by title too. Defaults to false. */
  readonly showSame?: boolean;
}

const statusWords: Record<SegmentStatus, string> = { same: 'same', changed: 'changed', 'only-a': 'only in A', 'only-b': 'only in B' };

/** The diff as text: a header per segment, then `-` lines (A only) and `+` lines (B only) with a little context. */
export function renderContextDiff(diff: ContextDiff, options: RenderDiffOptions = {}): string {
  const context = options.context ?? 2;
  const maxLines = options.maxLinesPerSegment ?? 40;
  const out: string[] = [`--- A ${options.labelA ?? ''}`.trimEnd(), `+++ B ${options.labelB ?? ''}`.trimEnd()];
  const { counts } = diff;
  out.push(
    diff.identical
      ? `The two requests are identical segment for segment (${counts.same} segments).`
      : `${counts.changed} changed, ${counts.onlyA} only in A, ${counts.onlyB} only in B, ${counts.same} the same.`,
  );
  for (const segment of diff.segments) {
    if (segment.status === 'same') {
      if (options.showSame === true) out.push(`=== ${segment.title}: same`);
      continue;
    }
    out.push('', `=== ${segment.title}: ${statusWords[segment.status]}${segment.notes.length === 0 ? '' : ` (${segment.notes.join('; ')})`}`);
    const shown = withContext(segment.lines, context);
    for (const line of shown.slice(0, maxLines)) out.push(line === null ? '  …' : `${line.op} ${line.text}`);
    if (shown.length > maxLines) out.push(`  … ${shown.length - maxLines} more line(s)`);
  }
  return out.join('\n');
}

/** The diff as JSON-ready data: only the segments that differ, each with its lines as `-text` / `+text` / ` text`. */
export function contextDiffToJson(diff: ContextDiff, options: { readonly labelA?: string; readonly labelB?: string } = {}): Record<string, unknown> {
  return {
    ...(options.labelA === undefined ? {} : { a: options.labelA }),
    ...(options.labelB === undefined ? {} : { b: options.labelB }),
    identical: diff.identical,
    counts: diff.counts,
    segments: diff.segments
      .filter((segment) => segment.status !== 'same')
      .map((segment) => ({ kind: segment.kind, key: segment.key, title: segment.title, status: segment.status, notes: segment.notes, lines: segment.lines.filter((line) => line.op !== ' ').map((line) => `${line.op}${line.text}`) })),
  };
}

/** Changed lines with up to `context` unchanged ones around them; null stands for an elided run. */
function withContext(lines: readonly DiffLine[], context: number): (DiffLine | null)[] {
  const keep = lines.map((line) => line.op !== ' ');
  const near = lines.map((_, index) => {
    for (let offset = -context; offset <= context; offset += 1) if (keep[index + offset] === true) return true;
    return false;
  });
  const shown: (DiffLine | null)[] = [];
  lines.forEach((line, index) => {
    if (near[index] === true) shown.push(line);
    else if (shown.at(-1) !== null) shown.push(null);
  });
  if (shown[0] === null) shown.shift();
  return shown;
}
