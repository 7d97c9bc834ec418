import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isKeelError } from '../../errors/index.ts';
import { defineTool } from '../define-tool.ts';
import { withSemanticValidation } from './semantic-validator.ts';
import { createReadOnlySqlChecker, defaultReadOnlyHint, readOnlySqlGuard } from './sql-read-only.ts';
import type { ReadOnlySqlVerdict } from './sql-read-only.ts';

const sqlite = createReadOnlySqlChecker({ dialect: 'sqlite' });

function rejection(verdict: ReadOnlySqlVerdict): string {
  if (verdict.ok) throw new Error(`expected a rejection, got acceptance reading ${verdict.tables.join(', ') || 'no tables'}`);
  return verdict.message;
}

/** Read queries the guard accepts for SQLite, with the tables each one reads. */
const acceptedSqlite: readonly (readonly [sql: string, tables: readonly string[]])[] = [
  ['SELECT 1', []],
  ['select * from users where id > 0', ['users']],
  ['SELECT COUNT(*) AS n FROM users;', ['users']],
  ['SELECT COUNT(*) FROM users;;', ['users']],
  ['SELECT u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id LEFT JOIN refunds r ON r.order_id = o.id', ['orders', 'refunds', 'users']],
  ["WITH recent AS (SELECT * FROM orders WHERE created_at > '2025-01-01') SELECT user_id, COUNT(*) AS n FROM recent GROUP BY user_id", ['orders']],
  ['WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT i FROM n', []],
  ['SELECT name FROM users WHERE id IN (SELECT user_id FROM orders WHERE total > 100)', ['orders', 'users']],
  ['SELECT * FROM (SELECT user_id, SUM(total) AS spent FROM orders GROUP BY user_id) AS t WHERE spent > 10', ['orders']],
  ['SELECT id FROM users UNION SELECT user_id FROM orders', ['orders', 'users']],
  ['SELECT id FROM users UNION ALL SELECT user_id FROM orders ORDER BY 1 LIMIT 5', ['orders', 'users']],
  ['SELECT user_id, total, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY total DESC) AS rank FROM orders', ['orders']],
  ["SELECT strftime('%Y-%m-%dT%H:00', created_at) AS hour, COUNT(*) AS n FROM orders GROUP BY hour HAVING COUNT(*) > 1", ['orders']],
  ["SELECT name, CASE WHEN total > 100 THEN 'big' ELSE 'small' END AS size FROM users JOIN orders ON orders.user_id = users.id", ['orders', 'users']],
  ["SELECT EXISTS (SELECT 1 FROM users WHERE name LIKE 'a%') AS any_a", ['users']],
  ["SELECT name, type FROM pragma_table_info('users')", []],
  ['-- comment first\nSELECT /* inline */ name FROM users -- trailing comment', ['users']],
  ["SELECT 'it''s; DROP TABLE users' AS text", []],
  ['SELECT name AS "delete from users" FROM users', ['users']],
  ["SELECT replace(name, 'a', 'b') AS cleaned FROM users", ['users']],
  ["SELECT json_extract(payload, '$.user.id') AS user_id FROM events", ['events']],
  ["SELECT COUNT(DISTINCT user_id) AS n FROM orders WHERE created_at BETWEEN '2025-01-01' AND '2025-02-01'", ['orders']],
  ['SELECT * FROM main.users', ['users']],
  ['SELECT id FROM users WHERE id = ?', ['users']],
  // The incident demo's scripted queries: GROUP BY on an expression, correlated EXISTS, substr/instr, IN lists.
  [
    "SELECT service, SUM(ts < '2025-03-14T13:35:00Z') AS before, SUM(ts >= '2025-03-14T13:35:00Z') AS after FROM error_logs WHERE level = 'error' GROUP BY service ORDER BY after DESC",
    ['error_logs'],
  ],
  [
    "SELECT substr(p.message, 1, instr(p.message, ':') - 1) AS kind, COUNT(*) AS n, SUM(EXISTS (SELECT 1 FROM error_logs i WHERE i.trace_id = p.trace_id AND i.level = 'error')) AS same FROM error_logs p WHERE p.level IN ('warn', 'error') OR p.message LIKE '%pool%' GROUP BY kind",
    ['error_logs'],
  ],
];

/** Queries the guard rejects for SQLite, each with what its message must say. */
const rejectedSqlite: readonly (readonly [sql: string, message: RegExp])[] = [
  // Seed §10.2's case, and statements of every other kind.
  ['DELETE FROM users WHERE id > 0', /^only a single read-only SELECT is accepted; found DELETE on table users\. This database is read-only here/],
  ['dElEtE from users', /found DELETE on table users/],
  ["UPDATE users SET name = 'x'", /found UPDATE on table users/],
  ["INSERT INTO users (name) VALUES ('x')", /found INSERT on table users/],
  ['INSERT INTO users SELECT * FROM users_backup', /found INSERT on table users/],
  ["REPLACE INTO users VALUES (1, 'x')", /found REPLACE on table users/],
  ['DROP TABLE users', /found DROP TABLE on table users/],
  ['ALTER TABLE users ADD COLUMN age INT', /found ALTER on table users/],
  ['CREATE TABLE copy AS SELECT * FROM users', /found CREATE TABLE on table copy/],
  ['CREATE VIEW v AS SELECT 1', /found CREATE VIEW/],
  ['CREATE INDEX users_name ON users (name)', /found CREATE/],
  ["ATTACH DATABASE '/tmp/elsewhere.db' AS elsewhere", /found ATTACH/],
  ['DETACH DATABASE elsewhere', /found DETACH/],
  ['VACUUM', /found VACUUM/],
  ["VACUUM INTO '/tmp/copy.db'", /found VACUUM/],
  ['PRAGMA writable_schema = ON', /found PRAGMA\. PRAGMA statements are not accepted/],
  ['PRAGMA table_info(users)', /found PRAGMA.*use SELECT name, type FROM pragma_table_info\('table'\)/],
  ['BEGIN IMMEDIATE', /found BEGIN/],
  ['COMMIT', /found COMMIT/],
  ['REINDEX', /found REINDEX/],
  ['EXPLAIN SELECT 1', /found EXPLAIN/],
  // Several statements, however they are disguised.
  ['SELECT 1; DELETE FROM users', /found 2 statements \(SELECT; DELETE\)\. Send one statement per call\. This database is read-only/],
  ['SELECT 1 /* */; DROP TABLE x', /found 2 statements \(SELECT; DROP\)/],
  ['SELECT 1 -- comment\n; DELETE FROM users', /found 2 statements \(SELECT; DELETE\)/],
  ['SELECT 1; SELECT 2', /found 2 statements \(SELECT; SELECT\)\. Send one statement per call$/],
  // Writes inside a read.
  ['WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d', /found DELETE inside the query \(data-modifying WITH clauses/],
  ['WITH x AS (SELECT 1) DELETE FROM users', /found WITH … DELETE on table users/],
  ["WITH x AS (SELECT 1) INSERT OR REPLACE INTO users VALUES (1, 'x')", /found WITH … INSERT on table users/],
  ['SELECT * INTO copy FROM users', /found SELECT … INTO copy, which writes its result/],
  ['SELECT * FROM users FOR UPDATE', /found SELECT … FOR UPDATE, which locks rows/],
  // Functions that act outside the query, wherever they hide.
  ["SELECT load_extension('/tmp/evil.so')", /load_extension\(\) is not allowed: it acts outside the query/],
  ["SELECT LOAD_EXTENSION('/tmp/evil.so')", /load_extension\(\) is not allowed/],
  ["SELECT * FROM users WHERE id = (SELECT load_extension('x'))", /load_extension\(\) is not allowed/],
  ["SELECT 1 UNION SELECT load_extension('x')", /load_extension\(\) is not allowed/],
  ["SELECT writefile('/tmp/x', 'data')", /writefile\(\) is not allowed/],
  ["SELECT readfile('/etc/passwd')", /readfile\(\) is not allowed/],
  ["SELECT fts3_tokenizer('simple')", /fts3_tokenizer\(\) is not allowed/],
  ['SELECT * FROM pragma_optimize', /pragma_optimize is not allowed/],
  ["SELECT * FROM pragma_optimize('main')", /pragma_optimize\(\) is not allowed/],
  // Text on which parsers and SQLite disagree: the parser would see one harmless SELECT.
  ["SELECT 'a\\'; DELETE FROM users; --'", /^a backslash \(\\\) is not accepted.*char\(92\) \(at character 10\)$/],
  ["SELECT 1 # ; DROP TABLE users", /"#" outside quotes is not accepted/],
  ['SELECT [name] FROM users', /\[bracketed\] names are not accepted/],
  ['SELECT $a(x) FROM users', /Tcl-style parameters/],
  ['SELECT 1\u0000; DELETE FROM users', /control character U\+0000 is not accepted/],
  // Malformed or empty.
  ['SELECT 1 /* never closed', /unterminated \/\* comment/],
  ["SELECT 'never closed", /unterminated string/],
  ['SELECT (1', /unbalanced parentheses: 1 "\(" is never closed/],
  ['SELECT 1)', /unbalanced parentheses: this "\)" closes nothing/],
  ['', /^the query is empty/],
  ['  ;  -- nothing here', /^the query is empty/],
  ['SELEC name FROM users', /^could not parse the query as SQLite SQL near "name FROM users" \(line 1, column 7\)/],
  ['SELECT name FROM users WHERE', /^could not parse the query as SQLite SQL at the end of the query/],
  // Valid SQLite the parser's grammar does not know: rejected (fail closed), with the spot.
  ['SELECT COUNT(*) FILTER (WHERE total > 1) FROM orders', /^could not parse the query as SQLite SQL near "\(WHERE total > 1\) FROM orders" \(line 1, column 24\)\. .*more common syntax/],
  ['SELECT SUM(total) OVER (ORDER BY created_at) FROM orders', /near "ORDER BY created_at\) FROM orders" \(line 1, column 25; the parser expected PARTITION there\)/],
];

describe('readOnlySqlGuard for SQLite', () => {
  it.each(acceptedSqlite)('accepts %s', async (sql, tables) => {
    const verdict = await sqlite.check(sql);
    expect(verdict).toEqual({ ok: true, tables });
  });

  it.each(rejectedSqlite)('rejects %s', async (sql, message) => {
    expect(rejection(await sqlite.check(sql))).toMatch(message);
  });

  it('folds names as SQLite does (ASCII only), so a CTE named with a Kelvin sign cannot hide a table read', async () => {
    const checker = createReadOnlySqlChecker({ dialect: 'sqlite', allowedTables: ['users'] });
    // SQLite reads the real table `keys` here: "\u212Aeys" is not the same name to it.
    const verdict = await checker.check('WITH "\u212Aeys" AS (SELECT 1) SELECT * FROM keys');
    expect(verdict.ok).toBe(false);
    expect(rejection(verdict)).toMatch(/keys/);
  });

  it('rejects a query longer than maxLength before parsing it', async () => {
    const short = createReadOnlySqlChecker({ dialect: 'sqlite', maxLength: 20 });
    expect(await short.check('SELECT 1')).toEqual({ ok: true, tables: [] });
    expect(rejection(short.precheck('SELECT name, id FROM users')!)).toBe('the query is 26 characters long; at most 20 are accepted');
    expect(short.statistics.parses).toBe(1);
  });

  it('puts the hint on rejections of writes only', async () => {
    const checker = createReadOnlySqlChecker({ dialect: 'sqlite', hint: 'Evidence is read-only.' });
    expect(rejection(await checker.check('DELETE FROM users WHERE id > 0'))).toBe('only a single read-only SELECT is accepted; found DELETE on table users. Evidence is read-only');
    expect(rejection(await checker.check('SELEC 1'))).not.toMatch(/Evidence/);
    expect(rejection(await sqlite.check('DELETE FROM users'))).toContain(defaultReadOnlyHint.replace(/\.$/, ''));
  });

  it('stops a query that would take the parser too long, off the event loop, caches that verdict, and recovers', async () => {
    const checker = createReadOnlySqlChecker({ dialect: 'sqlite', parseTimeoutMs: 150 });
    // Backtracking in node-sql-parser's grammar grows about fourfold per nested CAST with an error inside (seconds at 6).
    const pathological = `SELECT ${'CAST('.repeat(8)}x FROM${' AS INT)'.repeat(8)}`;
    expect(checker.precheck(pathological)).toBeNull();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      expect(rejection(await checker.check(pathological))).toMatch(/^the query could not be checked within 150 ms .*simplify it/);
    } finally {
      clearInterval(ticker);
    }
    // The old guard blocked the event loop for the whole parse: not one tick could run.
    expect(ticks).toBeGreaterThanOrEqual(3);
    // The time-out is a verdict like any other: the same text is answered from the cache, without parsing again.
    expect(checker.statistics.parses).toBe(1);
    expect(rejection(checker.precheck(pathological)!)).toMatch(/could not be checked within 150 ms/);
    expect(rejection(await checker.check(pathological))).toMatch(/could not be checked within 150 ms/);
    expect(checker.statistics.parses).toBe(1);
    // A fresh worker answers the next query.
    expect(await checker.check('SELECT name FROM users')).toEqual({ ok: true, tables: ['users'] });
  });

  it('parses a text once: acceptances and rejections come from the cache afterwards, and concurrent checks share a parse', async () => {
    const checker = createReadOnlySqlChecker({ dialect: 'sqlite', allowedTables: ['users'] });
    const accepted = 'SELECT name FROM users WHERE id = 1';
    const unparseable = 'SELECT name FROM users WHERE';
    const forbidden = 'SELECT * FROM secrets';
    const first = await Promise.all([checker.check(accepted), checker.check(accepted), checker.check(unparseable), checker.check(forbidden)]);
    expect(checker.statistics.parses).toBe(3);
    const again = await Promise.all([checker.check(accepted), checker.check(unparseable), checker.check(forbidden)]);
    expect(again).toEqual([first[0], first[2], first[3]]);
    expect(checker.precheck(forbidden)).toEqual(first[3]);
    expect(checker.statistics.parses).toBe(3);
    // Token-level rejections never reach the parser.
    expect(rejection(await checker.check('DELETE FROM users'))).toMatch(/found DELETE on table users/);
    expect(checker.statistics.parses).toBe(3);
  });

  it('forgets the least recently used verdict first', async () => {
    const checker = createReadOnlySqlChecker({ dialect: 'sqlite', cacheSize: 2 });
    await checker.check('SELECT 1');
    await checker.check('SELECT 2');
    await checker.check('SELECT 1');
    await checker.check('SELECT 3');
    expect(checker.statistics.parses).toBe(3);
    expect(checker.precheck('SELECT 1')).toEqual({ ok: true, tables: [] });
    expect(checker.precheck('SELECT 2')).toBeNull();
  });

  it('stops waiting when its signal aborts', async () => {
    const checker = createReadOnlySqlChecker({ dialect: 'sqlite', parseTimeoutMs: 5_000 });
    const controller = new AbortController();
    const waiting = checker.check(`SELECT ${'CAST('.repeat(9)}x FROM${' AS INT)'.repeat(9)}`, controller.signal);
    controller.abort(new Error('caller gave up'));
    await expect(waiting).rejects.toThrow('caller gave up');
  });

  it('agrees with SQLite itself: every accepted query is one read-only statement to the engine', () => {
    const db = new Database(':memory:');
    try {
      db.exec(`
        CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, created_at TEXT);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, total REAL, created_at TEXT);
        CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER);
        CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT);
        CREATE TABLE error_logs (id INTEGER PRIMARY KEY, ts TEXT, service TEXT, level TEXT, message TEXT, trace_id TEXT);
      `);
      for (const [sql] of acceptedSqlite) {
        const statement = db.prepare(sql);
        expect(statement.readonly, sql).toBe(true);
        expect(statement.reader, sql).toBe(true);
      }
    } finally {
      db.close();
    }
  });
});

describe('readOnlySqlGuard with allowedTables', () => {
  const checker = createReadOnlySqlChecker({ dialect: 'sqlite', allowedTables: ['users', 'Orders', 'archive.orders'] });

  it.each([
    ['SELECT * FROM users JOIN orders ON orders.user_id = users.id', ['orders', 'users']],
    ['SELECT * FROM USERS', ['users']],
    ['SELECT * FROM main.users', ['users']],
    ['SELECT * FROM archive.orders', ['archive.orders']],
    ['WITH secrets AS (SELECT id FROM users) SELECT * FROM secrets', ['users']],
    ["SELECT name FROM pragma_table_info('users')", []],
  ])('accepts %s', async (sql, tables) => {
    expect(await checker.check(sql)).toEqual({ ok: true, tables });
  });

  it.each([
    ['SELECT * FROM secrets', /^the query reads secrets, which is not one of the tables that may be read: users, Orders, archive\.orders$/],
    ['SELECT * FROM users WHERE id IN (SELECT user_id FROM secrets)', /reads secrets/],
    ['SELECT * FROM users UNION SELECT * FROM secrets', /reads secrets/],
    ['SELECT * FROM other.users', /reads other\.users/],
    ['SELECT * FROM sqlite_master', /reads sqlite_master/],
    // A CTE named like a table hides that table only inside its own scope.
    ['SELECT * FROM (WITH secrets AS (SELECT 1) SELECT * FROM secrets), secrets', /reads secrets/],
    ["SELECT * FROM pragma_table_info('secrets')", /reads secrets/],
    ['SELECT * FROM pragma_database_list', /reads pragma_database_list, which is not one of the tables/],
    ["SELECT * FROM pragma_foreign_key_check('users')", /pragma_foreign_key_check\(\) is not allowed here; to list a table's columns use pragma_table_info/],
  ])('rejects %s', async (sql, message) => {
    expect(rejection(await checker.check(sql))).toMatch(message);
  });
});

describe('readOnlySqlGuard for PostgreSQL and MySQL', () => {
  const postgresql = createReadOnlySqlChecker({ dialect: 'postgresql' });
  const mysql = createReadOnlySqlChecker({ dialect: 'mysql' });

  it.each([
    [postgresql, 'SELECT u.name, COUNT(o.id) FROM users u LEFT JOIN orders o ON o.user_id = u.id GROUP BY u.name HAVING COUNT(o.id) > 2 ORDER BY 2 DESC LIMIT 5'],
    [postgresql, 'SELECT a::int FROM t WHERE b = $1'],
    [postgresql, 'SELECT * FROM generate_series(1, 3) AS g'],
    [postgresql, 'SELECT 1 /* outer /* nested */ still a comment; DROP TABLE x */'],
    [mysql, 'SELECT `name` FROM users # a MySQL comment'],
    [mysql, 'SELECT 1 -- a comment with a space'],
  ])('accepts %#: %s', async (checker, sql) => {
    expect((await checker.check(sql)).ok).toBe(true);
  });

  it.each([
    [postgresql, 'DELETE FROM users WHERE id > 0', /found DELETE on table users/],
    [postgresql, 'WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d', /found DELETE inside the query/],
    [postgresql, 'SELECT * INTO copy FROM users', /found SELECT … INTO copy, which writes its result/],
    [postgresql, 'SELECT * FROM users FOR UPDATE', /found SELECT … FOR UPDATE, which locks rows/],
    [postgresql, 'SELECT pg_sleep(10)', /pg_sleep\(\) is not allowed/],
    [postgresql, "SELECT pg_catalog.pg_read_file('/etc/passwd')", /pg_read_file\(\) is not allowed/],
    [postgresql, "SELECT nextval('orders_id_seq')", /nextval\(\) is not allowed/],
    [postgresql, "SELECT pg_advisory_lock(1)", /pg_advisory_lock\(\) is not allowed/],
    [postgresql, "SELECT query_to_xml('DELETE FROM users RETURNING *', true, false, '')", /query_to_xml\(\) is not allowed/],
    [postgresql, "SELECT $$a'$$; DROP TABLE users; --'", /dollar-quoted strings/],
    [postgresql, 'SELECT 1 /* a /* b */ ; DROP TABLE x', /unterminated \/\* comment/],
    [postgresql, 'SELECT 1 # 2', /"#" outside quotes/],
    [mysql, "SELECT a FROM t INTO OUTFILE '/tmp/x'", /SELECT … INTO/],
    [mysql, 'SELECT a INTO @x FROM t', /SELECT … INTO/],
    [mysql, 'SELECT @a := 1', /variable assignment/],
    [mysql, 'SELECT 1 FROM t LOCK IN SHARE MODE', /LOCK IN SHARE MODE, which locks rows/],
    [mysql, 'SELECT SLEEP(5)', /sleep\(\) is not allowed/],
    [mysql, "SELECT LOAD_FILE('/etc/passwd')", /load_file\(\) is not allowed/],
    [mysql, 'SELECT 1 /*! ; DROP TABLE x */', /MySQL executable comments/],
    [mysql, 'SELECT 1 --1; DROP TABLE x', /"--" must be followed by a space/],
    [mysql, "SELECT 'a\\'; DROP TABLE x; -- '", /backslash/],
    [mysql, 'SHOW TABLES', /found SHOW\./],
  ])('rejects %#: %s', async (checker, sql, message) => {
    expect(rejection(await checker.check(sql))).toMatch(message);
  });
});

describe('readOnlySqlGuard as a semantic validator', () => {
  let tool: ReturnType<typeof defineTool>;

  beforeAll(() => {
    tool = defineTool({
      name: 'run_sql',
      description: 'Runs one read-only query.',
      input: withSemanticValidation(z.object({ sql: z.string().min(1), limit: z.number().int().default(10) }), [readOnlySqlGuard({ dialect: 'sqlite', field: 'sql' })]),
      risk: 'read',
      execute: () => 'ran',
    });
  });

  it('reports a rejection as a zod issue at its field, and keeps the JSON schema as it was', () => {
    const result = tool.input.safeParse({ sql: 'DELETE FROM users WHERE id > 0' });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({ code: 'custom', path: ['sql'], message: `only a single read-only SELECT is accepted; found DELETE on table users. ${defaultReadOnlyHint.replace(/\.$/, '')}` }),
    ]);
    expect(tool.input.safeParse({ sql: 'SELECT * FROM users' })).toEqual({ success: true, data: { sql: 'SELECT * FROM users', limit: 10 } });
    expect(tool.inputSchema).toEqual({
      type: 'object',
      properties: { sql: { type: 'string', minLength: 1 }, limit: { type: 'integer', default: 10, minimum: expect.any(Number), maximum: expect.any(Number) } },
      required: ['sql'],
    });
  });

  it('defaults to the `query` field', () => {
    const guard = readOnlySqlGuard({ dialect: 'sqlite' });
    expect(guard({ query: 'SELECT 1' })).toEqual({ ok: true });
    expect(guard({ query: 'DROP TABLE users' })).toMatchObject({ ok: false, field: 'query', message: expect.stringMatching(/found DROP TABLE on table users/) });
    expect(guard({ query: 42 } as unknown as { query: string })).toMatchObject({ ok: false, field: 'query', message: 'must be a string holding one SELECT statement' });
  });

  it('refuses invalid options as invalid-config', () => {
    const attempts = [
      () => createReadOnlySqlChecker({ dialect: 'oracle' as 'sqlite' }),
      () => createReadOnlySqlChecker({ dialect: 'sqlite', allowedTables: [] }),
      () => createReadOnlySqlChecker({ dialect: 'sqlite', maxLength: 0 }),
      () => createReadOnlySqlChecker({ dialect: 'sqlite', parseTimeoutMs: -1 }),
      () => createReadOnlySqlChecker({ dialect: 'sqlite', cacheSize: 0 }),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
        expect.unreachable('should have thrown');
      } catch (error) {
        expect(isKeelError(error, 'invalid-config')).toBe(true);
      }
    }
  });
});
