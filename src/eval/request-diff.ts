/** Lines shown on each side of a diff; a whole prompt may differ, the person needs its start. */
const maxShownLines = 40;
const maxLineChars = 300;

/** Pretty JSON of a canonical request, one value per line, so a diff points at the field that changed. */
export function prettyRequest(canonical: string): string {
  try {
    return JSON.stringify(JSON.parse(canonical), null, 2);
  } catch {
    return canonical;
  }
}

/**
 * A readable diff of two texts: the common lines at both ends are trimmed (linear time, whatever the size), and the
 * differing middle is shown as `-` (recorded) and `+` (sent now) lines with a little context, capped in length.
 */
export function diffLines(recorded: string, actual: string): string {
  const before = recorded.split('\n');
  const after = actual.split('\n');
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && before[prefix] === after[prefix]) prefix += 1;
  let suffix = 0;
  while (suffix < before.length - prefix && suffix < after.length - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix += 1;
  if (prefix === before.length && prefix === after.length) return '(the two requests are identical)';
  const removed = before.slice(prefix, before.length - suffix);
  const added = after.slice(prefix, after.length - suffix);
  const lines: string[] = [`@@ line ${prefix + 1}: ${removed.length} recorded line${removed.length === 1 ? '' : 's'}, ${added.length} sent now @@`];
  const context = before.slice(Math.max(0, prefix - 2), prefix);
  for (const line of context) lines.push(`  ${cut(line)}`);
  // A long line (a system prompt, a tool result) that changed deep inside is shown around its first difference.
  const focus = removed.length === added.length ? removed.map((line, index) => firstDifference(line, added[index] ?? '')) : [];
  lines.push(...shown(removed, '-', focus), ...shown(added, '+', focus));
  for (const line of before.slice(before.length - suffix, before.length - suffix + 2)) lines.push(`  ${cut(line)}`);
  return lines.join('\n');
}

function shown(lines: readonly string[], sign: '-' | '+', focus: readonly number[]): string[] {
  const out = lines.slice(0, maxShownLines).map((line, index) => `${sign} ${around(line, focus[index] ?? 0)}`);
  if (lines.length > maxShownLines) out.push(`${sign} … ${lines.length - maxShownLines} more lines`);
  return out;
}

/** Index of the first character where two lines differ. */
function firstDifference(first: string, second: string): number {
  let index = 0;
  while (index < first.length && index < second.length && first[index] === second[index]) index += 1;
  return index;
}

/** The line cut to its length limit, starting shortly before `from` when the difference lies past the limit. */
function around(line: string, from: number): string {
  if (from < maxLineChars - 60) return cut(line);
  const start = from - 60;
  const window = line.slice(start, start + maxLineChars - 1);
  return `…${window}${start + maxLineChars - 1 < line.length ? '…' : ''}`;
}

function cut(line: string): string {
  return line.length > maxLineChars ? `${line.slice(0, maxLineChars - 1)}…` : line;
}

/** How many leading lines two texts share: picks the recorded request a changed one most likely stands for. */
export function sharedLeadingLines(first: string, second: string): number {
  const a = first.split('\n');
  const b = second.split('\n');
  let index = 0;
  while (index < a.length && index < b.length && a[index] === b[index]) index += 1;
  return index;
}
