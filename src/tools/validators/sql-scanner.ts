/**
 * A small SQL scanner that reads text the way the target engine's own tokenizer does: where comments, quoted
 * strings and statements begin and end. The read-only guard uses it for what a general-purpose parser can get
 * wrong about one engine:
 *
 * - It splits statements at top-level semicolons, so a second statement hidden where the parser sees a comment
 *   or a string is still counted (for example `SELECT 1 # ; DROP TABLE x`: `#` starts a comment for the parser,
 *   not for SQLite).
 * - It blanks comments out before the parser sees the text, so the parser and the engine agree on them.
 * - It refuses the few constructs on which parsers and engines disagree about where a token ends: backslashes
 *   (an escape in MySQL strings, a plain character in SQLite and PostgreSQL), `#` outside quotes in SQLite and
 *   PostgreSQL, `--` without a following space in MySQL, MySQL's executable comments, PostgreSQL dollar quotes,
 *   SQLite's `[…]` names and Tcl-style `$name(…)` parameters, control characters, and any other character
 *   outside quotes that is not ASCII.
 *
 * What is left is plain SQL whose only escape is a doubled quote, which every engine and the parser read alike.
 */

export type SqlDialect = 'sqlite' | 'postgresql' | 'mysql';

export const sqlDialectNames: Readonly<Record<SqlDialect, string>> = { sqlite: 'SQLite', postgresql: 'PostgreSQL', mysql: 'MySQL' };

export interface SqlToken {
  readonly kind: 'word' | 'quoted' | 'number' | 'parameter' | 'symbol';
  readonly text: string;
  /** Offset of the token's first character in the original text. */
  readonly start: number;
}

export interface ScannedSql {
  /** The original text with every comment replaced by spaces (line breaks kept), so offsets still match. */
  readonly text: string;
  /** The tokens of each non-empty statement, split at top-level semicolons. */
  readonly statements: readonly (readonly SqlToken[])[];
}

export type ScanResult = { readonly ok: true; readonly scanned: ScannedSql } | { readonly ok: false; readonly message: string; readonly offset: number };

class ScanError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

const isWordStart = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isDigit = (c: string) => c >= '0' && c <= '9';
const isWordPart = (c: string) => isWordStart(c) || isDigit(c) || c === '$';
const dollarQuoteMessage = "dollar-quoted strings ($$…$$ or $tag$…$tag$) are not accepted; use '…' and double any quote inside";
const isSpace = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const numberPattern = /0[xX][0-9A-Fa-f_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]+)?|\.[0-9][0-9_]*(?:[eE][+-]?[0-9_]+)?/y;
const dollarQuotePattern = /\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/y;

function describeCharacter(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Scans `sql` as `dialect`'s engine would; fails on the constructs listed in the module comment. */
export function scanSql(sql: string, dialect: SqlDialect): ScanResult {
  try {
    return { ok: true, scanned: scan(sql, dialect) };
  } catch (error) {
    if (error instanceof ScanError) return { ok: false, message: error.message, offset: error.offset };
    throw error;
  }
}

function scan(sql: string, dialect: SqlDialect): ScannedSql {
  const blanked = sql.split('');
  const statements: SqlToken[][] = [];
  let current: SqlToken[] = [];
  let depth = 0;
  let i = 0;

  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (blanked[k] !== '\n') blanked[k] = ' ';
  };
  const push = (kind: SqlToken['kind'], start: number, end: number) => {
    // PostgreSQL reads $$…$$ and $tag$…$tag$ as strings, even right after a name; other parsers may too.
    for (let k = kind === 'quoted' ? -1 : sql.indexOf('$', start); k !== -1 && k < end; k = sql.indexOf('$', k + 1)) {
      dollarQuotePattern.lastIndex = k;
      if (dollarQuotePattern.test(sql)) throw new ScanError(dollarQuoteMessage, k);
    }
    current.push({ kind, text: sql.slice(start, end), start });
  };

  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1] ?? '';
    const code = c.charCodeAt(0);

    if (c === '\\') {
      const literal = dialect === 'postgresql' ? 'chr(92)' : 'char(92)';
      throw new ScanError(`a backslash (\\) is not accepted: SQL engines disagree on whether it escapes the next character; for a literal backslash use ${literal}`, i);
    }
    if ((code < 0x20 && !isSpace(c)) || code === 0x7f) throw new ScanError(`control character ${describeCharacter(c)} is not accepted`, i);
    if (isSpace(c)) {
      i++;
      continue;
    }

    // Comments: blanked out, so the parser sees exactly what the engine executes.
    if (c === '-' && next === '-') {
      if (dialect === 'mysql' && !(i + 2 >= sql.length || isSpace(sql[i + 2]!))) {
        throw new ScanError('"--" must be followed by a space to start a comment in MySQL; write "-- comment" or "- -1"', i);
      }
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '#') {
      if (dialect !== 'mysql') {
        throw new ScanError(`"#" outside quotes is not accepted: some SQL parsers read it as a comment, ${sqlDialectNames[dialect]} does not`, i);
      }
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? sql.length : end;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (c === '/' && next === '*') {
      if (dialect === 'mysql' && (sql[i + 2] === '!' || (sql[i + 2] === 'M' && sql[i + 3] === '!'))) {
        throw new ScanError('MySQL executable comments (/*! … */) are not accepted: MySQL runs their content', i);
      }
      // PostgreSQL nests block comments; SQLite and MySQL end them at the first */.
      let nesting = 1;
      let k = i + 2;
      while (k < sql.length && nesting > 0) {
        if (sql[k] === '*' && sql[k + 1] === '/') {
          nesting--;
          k += 2;
        } else if (dialect === 'postgresql' && sql[k] === '/' && sql[k + 1] === '*') {
          nesting++;
          k += 2;
        } else {
          k++;
        }
      }
      if (nesting > 0) throw new ScanError('unterminated /* comment', i);
      blank(i, k);
      i = k;
      continue;
    }

    // Quoted strings and names: the only escape left is the doubled quote.
    if (c === "'" || c === '"' || (c === '`' && dialect !== 'postgresql')) {
      let k = i + 1;
      for (;;) {
        if (k >= sql.length) throw new ScanError(`unterminated ${c === "'" ? 'string' : 'quoted name'} starting here`, i);
        if (sql[k] === c) {
          if (sql[k + 1] === c) {
            k += 2;
            continue;
          }
          break;
        }
        if (sql[k] === '\\') throw new ScanError(`a backslash (\\) is not accepted: SQL engines disagree on whether it escapes the next character; for a literal backslash use ${dialect === 'postgresql' ? 'chr(92)' : 'char(92)'}`, k);
        const inner = sql.charCodeAt(k);
        if ((inner < 0x20 && !isSpace(sql[k]!)) || inner === 0x7f) throw new ScanError(`control character ${describeCharacter(sql[k]!)} is not accepted`, k);
        k++;
      }
      push('quoted', i, k + 1);
      i = k + 1;
      continue;
    }
    if (c === '[' && dialect === 'sqlite') throw new ScanError('[bracketed] names are not accepted; quote names with double quotes, e.g. "order"', i);
    if (c === '$') {
      dollarQuotePattern.lastIndex = i;
      if (dollarQuotePattern.test(sql)) throw new ScanError(dollarQuoteMessage, i);
    }
    if (c === '$' && dialect === 'postgresql') {
      if (isDigit(next)) {
        let k = i + 1;
        while (k < sql.length && isDigit(sql[k]!)) k++;
        push('parameter', i, k);
        i = k;
        continue;
      }
    }
    if (dialect === 'sqlite' && (c === '$' || c === '@' || c === ':') && isWordPart(next)) {
      // SQLite parameters; Tcl-style $name(…) and $a::b forms can hide quotes and semicolons, so they are refused.
      let k = i + 1;
      while (k < sql.length && isWordPart(sql[k]!)) k++;
      if (sql[k] === '(' || (sql[k] === ':' && sql[k + 1] === ':')) throw new ScanError('Tcl-style parameters such as $name(…) or $a::b are not accepted', i);
      push('parameter', i, k);
      i = k;
      continue;
    }
    if (c === '?' && dialect === 'sqlite') {
      let k = i + 1;
      while (k < sql.length && isDigit(sql[k]!)) k++;
      push('parameter', i, k);
      i = k;
      continue;
    }

    if (isWordStart(c)) {
      let k = i + 1;
      while (k < sql.length && isWordPart(sql[k]!)) k++;
      push('word', i, k);
      i = k;
      continue;
    }
    if (isDigit(c) || (c === '.' && isDigit(next))) {
      numberPattern.lastIndex = i;
      numberPattern.test(sql);
      const end = Math.max(numberPattern.lastIndex, i + 1);
      push('number', i, end);
      i = end;
      continue;
    }
    if (code > 0x7f) throw new ScanError(`character ${describeCharacter(c)} outside quotes is not accepted; quote names that are not plain ASCII`, i);

    if (c === ';') {
      if (depth !== 0) throw new ScanError('unbalanced parentheses: a ";" appears before every "(" is closed', i);
      if (current.length > 0) statements.push(current);
      current = [];
      i++;
      continue;
    }
    if (c === '(') depth++;
    if (c === ')') {
      depth--;
      if (depth < 0) throw new ScanError('unbalanced parentheses: this ")" closes nothing', i);
    }
    push('symbol', i, i + 1);
    i++;
  }
  if (depth !== 0) throw new ScanError(`unbalanced parentheses: ${depth} "(" ${depth === 1 ? 'is' : 'are'} never closed`, sql.length);
  if (current.length > 0) statements.push(current);
  return { text: blanked.join(''), statements };
}

/** The first word of a statement, upper-cased (`SELECT`, `WITH`, `DELETE`, …), or null if it starts otherwise. */
export function leadingKeyword(tokens: readonly SqlToken[]): string | null {
  const first = tokens[0];
  return first?.kind === 'word' ? first.text.toUpperCase() : null;
}
