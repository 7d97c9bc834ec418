import { describe, expect, it } from 'vitest';
import { leadingKeyword, scanSql } from './sql-scanner.ts';
import type { SqlDialect } from './sql-scanner.ts';

function statements(sql: string, dialect: SqlDialect = 'sqlite'): string[] {
  const result = scanSql(sql, dialect);
  if (!result.ok) throw new Error(`scan failed: ${result.message}`);
  return result.scanned.statements.map((tokens) => tokens.map((token) => token.text).join(' '));
}

function refusal(sql: string, dialect: SqlDialect = 'sqlite'): { message: string; offset: number } {
  const result = scanSql(sql, dialect);
  if (result.ok) throw new Error('expected the scan to fail');
  return { message: result.message, offset: result.offset };
}

describe('scanSql', () => {
  it('splits statements at top-level semicolons only, and drops empty ones', () => {
    expect(statements("SELECT 'a;b', \"c;d\", `e;f` FROM t -- ; x\n/* ; */;;")).toEqual(["SELECT 'a;b' , \"c;d\" , `e;f` FROM t"]);
    expect(statements('SELECT 1; DELETE FROM users;')).toEqual(['SELECT 1', 'DELETE FROM users']);
    expect(statements("SELECT 'it''s'; SELECT 2")).toEqual(["SELECT 'it''s'", 'SELECT 2']);
    expect(statements('  ;  -- only a comment')).toEqual([]);
  });

  it('blanks comments out, keeping offsets and line breaks', () => {
    const sql = 'SELECT /* c */ 1 -- tail\nFROM t';
    const result = scanSql(sql, 'sqlite');
    expect(result.ok && result.scanned.text).toBe('SELECT         1        \nFROM t');
    expect(result.ok && result.scanned.text.length).toBe(sql.length);
    expect(result.ok && result.scanned.statements[0]?.map((token) => token.start)).toEqual([0, 15, 25, 30]);
  });

  it('follows each engine on block comments: nested in PostgreSQL only', () => {
    expect(statements('SELECT 1 /* a /* b */ c */', 'postgresql')).toEqual(['SELECT 1']);
    expect(statements('SELECT 1 /* a /* b */ ; DROP TABLE x', 'sqlite')).toEqual(['SELECT 1', 'DROP TABLE x']);
    expect(refusal('SELECT 1 /* a /* b */ ; DROP TABLE x', 'postgresql').message).toBe('unterminated /* comment');
  });

  it('follows MySQL on # and -- comments', () => {
    expect(statements('SELECT 1 # ; DROP TABLE x', 'mysql')).toEqual(['SELECT 1']);
    expect(statements('SELECT 1 -- ; DROP TABLE x', 'mysql')).toEqual(['SELECT 1']);
    expect(refusal('SELECT 1 --1', 'mysql').message).toMatch(/"--" must be followed by a space/);
  });

  it.each([
    ["SELECT 'a\\'; DELETE FROM users; --'", 'sqlite', /^a backslash/, 9],
    ['SELECT \\N', 'mysql', /^a backslash.*char\(92\)/, 7],
    ["SELECT E'\\n'", 'postgresql', /^a backslash.*chr\(92\)/, 9],
    ['SELECT 1 # ; DROP TABLE x', 'sqlite', /^"#" outside quotes is not accepted: some SQL parsers read it as a comment, SQLite does not$/, 9],
    ['SELECT 1 # 2', 'postgresql', /PostgreSQL does not/, 9],
    ['SELECT 1 /*! ; DROP TABLE x */', 'mysql', /executable comments/, 9],
    ['SELECT 1 /*M! ; DROP TABLE x */', 'mysql', /executable comments/, 9],
    ["SELECT $$'$$; DROP TABLE x; --'", 'postgresql', /dollar-quoted/, 7],
    ["SELECT a$$, pg_sleep(1) --$$", 'postgresql', /dollar-quoted/, 8],
    ['SELECT $tag$x$tag$', 'postgresql', /dollar-quoted/, 7],
    ['SELECT [a] FROM t', 'sqlite', /\[bracketed\] names/, 7],
    ['SELECT $a(x) FROM t', 'sqlite', /Tcl-style/, 7],
    ['SELECT $a::b FROM t', 'sqlite', /Tcl-style/, 7],
    ['SELECT 1\u0000', 'sqlite', /control character U\+0000/, 8],
    ["SELECT 'a\u0007'", 'sqlite', /control character U\+0007/, 9],
    ['SELECT\u00a0load_extension(1)', 'sqlite', /character U\+00A0 outside quotes/, 6],
    ["SELECT 'open", 'sqlite', /unterminated string/, 7],
    ['SELECT "open', 'sqlite', /unterminated quoted name/, 7],
    ['SELECT (1', 'sqlite', /1 "\(" is never closed/, 9],
    ['SELECT 1)', 'sqlite', /this "\)" closes nothing/, 8],
    ['SELECT (1; SELECT 2)', 'sqlite', /a ";" appears before every "\(" is closed/, 9],
  ] as const)('refuses %s (%s)', (sql, dialect, message, offset) => {
    const result = refusal(sql, dialect);
    expect(result.message).toMatch(message);
    expect(result.offset).toBe(offset);
  });

  it('accepts what every engine reads alike', () => {
    expect(statements("SELECT 'naïve', \"ünïcode\", x'00ff', 1.5e-3, .5, 0x1F FROM t WHERE a = ? AND b = :b AND c = @c AND d = $d")).toHaveLength(1);
    expect(statements("SELECT '$$' AS dollars, price$ FROM t", 'mysql')).toHaveLength(1);
    expect(statements('SELECT a::int FROM t WHERE b = $1', 'postgresql')).toHaveLength(1);
  });
});

describe('leadingKeyword', () => {
  it('is the first word of a statement, upper-cased', () => {
    const scanned = scanSql('dElEtE FROM users; (SELECT 1)', 'sqlite');
    expect(scanned.ok && scanned.scanned.statements.map(leadingKeyword)).toEqual(['DELETE', null]);
  });
});
