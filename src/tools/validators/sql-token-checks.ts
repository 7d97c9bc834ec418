import { asciiLowerCase } from '../../util/index.ts';
/**
 * The read-only guard's synchronous layer: checks that need only the scanner's tokens, so they cost time linear
 * in the length of the query and never run the parser. They reject statements of any kind but SELECT, several
 * statements, data-modifying keywords anywhere, SELECT … INTO, row locks and calls of functions that act outside
 * the query. They fail closed: a word such as DELETE outside quotes rejects the query even where a grammar might
 * read it as a name. What needs the syntax tree (tables read, assignments, the exact shape of the statement) is
 * left to the parser.
 */
import { forbiddenFunctionReason, isForbiddenFunction, onlySelect, SqlRejection } from './sql-tree-checks.ts';
import { leadingKeyword, scanSql } from './sql-scanner.ts';
import type { SqlDialect, SqlToken } from './sql-scanner.ts';

/** Leading keywords that name a statement other than a read. */
const statementKeywords = new Set([
  'INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'MERGE', 'UPSERT', 'CREATE', 'DROP', 'ALTER', 'TRUNCATE', 'RENAME', 'GRANT', 'REVOKE',
  'ATTACH', 'DETACH', 'VACUUM', 'REINDEX', 'ANALYZE', 'ANALYSE', 'PRAGMA', 'BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'SAVEPOINT', 'RELEASE',
  'LOCK', 'UNLOCK', 'SET', 'RESET', 'CALL', 'DO', 'EXEC', 'EXECUTE', 'PREPARE', 'DEALLOCATE', 'DECLARE', 'LOAD', 'COPY', 'HANDLER', 'USE',
  'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'VALUES', 'TABLE', 'LISTEN', 'NOTIFY', 'UNLISTEN', 'DISCARD', 'CLUSTER', 'REFRESH', 'COMMENT',
  'SECURITY', 'REASSIGN', 'IMPORT', 'CHECKPOINT', 'FLUSH', 'KILL', 'OPTIMIZE', 'REPAIR', 'INSTALL', 'UNINSTALL', 'SHUTDOWN', 'RESTART',
]);

const dataModifyingKeywords = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'MERGE']);

/** Words that may stand between a statement keyword and the table it names. */
const tablePrefixWords = new Set(['FROM', 'INTO', 'OR', 'ROLLBACK', 'ABORT', 'REPLACE', 'FAIL', 'IGNORE', 'TABLE', 'IF', 'NOT', 'EXISTS', 'ONLY']);

/** Words between CREATE and the kind of object it creates. */
const createModifiers = new Set(['TEMP', 'TEMPORARY', 'UNIQUE', 'VIRTUAL', 'OR', 'REPLACE', 'GLOBAL', 'LOCAL', 'UNLOGGED', 'MATERIALIZED']);

export interface TokenCheckOptions {
  readonly dialect: SqlDialect;
  readonly maxLength: number;
  /** Appended to rejections of statements that would write. */
  readonly hint: string;
}

/** What the parser gets once the token checks pass: the text with comments blanked out, and its tokens. */
export interface TokenCheckResult {
  readonly text: string;
  readonly tokens: readonly SqlToken[];
}

const reject = (message: string): never => {
  throw new SqlRejection(message);
};

const word = (token: SqlToken | undefined): string | null => (token?.kind === 'word' ? token.text.toUpperCase() : null);

/** ` on table x` for the table the statement keyword at `index` names, when it is plain to see. */
function tokenTable(tokens: readonly SqlToken[], index: number): string {
  let k = index + 1;
  while (tablePrefixWords.has(word(tokens[k]) ?? '')) k++;
  const name = tokens[k];
  return name?.kind === 'word' || name?.kind === 'quoted' ? ` on table ${name.text}` : '';
}

/** `DROP TABLE on table users`, `CREATE VIEW`, `DELETE on table users`: the statement a leading keyword starts. */
function statementLabel(tokens: readonly SqlToken[], keyword: string): string {
  if (keyword === 'CREATE' || keyword === 'DROP') {
    let k = 1;
    while (keyword === 'CREATE' && createModifiers.has(word(tokens[k]) ?? '')) k++;
    const object = word(tokens[k]);
    if (object === null) return keyword;
    return `${keyword} ${object}${object === 'TABLE' ? tokenTable(tokens, k) : ''}`;
  }
  if (keyword === 'ALTER') return word(tokens[1]) === 'TABLE' ? `ALTER${tokenTable(tokens, 1)}` : 'ALTER';
  if (dataModifyingKeywords.has(keyword)) return `${keyword}${tokenTable(tokens, 0)}`;
  return keyword;
}

/** Runs every check that needs no parser; returns what the parser should read, or throws a SqlRejection. */
export function checkTokens(sql: string, options: TokenCheckOptions): TokenCheckResult {
  const writes = (what: string): never => reject(`${onlySelect}; found ${what}. ${options.hint}`);
  if (sql.length > options.maxLength) reject(`the query is ${sql.length} characters long; at most ${options.maxLength} are accepted.`);
  const scanned = scanSql(sql, options.dialect);
  if (!scanned.ok) return reject(`${scanned.message} (at character ${scanned.offset + 1}).`);
  const { statements, text } = scanned.scanned;
  if (statements.length === 0) reject('the query is empty; send one SELECT statement.');
  if (statements.length > 1) {
    const kinds = statements.map((tokens) => leadingKeyword(tokens) ?? '?');
    const message = `${onlySelect}; found ${statements.length} statements (${kinds.join('; ')}). Send one statement per call.`;
    reject(kinds.every((kind) => kind === 'SELECT' || kind === 'WITH') ? message : `${message} ${options.hint}`);
  }
  const tokens = statements[0]!;
  const keyword = leadingKeyword(tokens);
  if (keyword === 'PRAGMA') {
    const advice = options.dialect === 'sqlite' ? " To list a table's columns, use SELECT name, type FROM pragma_table_info('table')." : '';
    reject(`${onlySelect}; found PRAGMA. PRAGMA statements are not accepted (some change the database).${advice}`);
  }
  if (keyword !== null && statementKeywords.has(keyword)) writes(statementLabel(tokens, keyword));
  checkWordsInside(tokens, keyword, writes);
  return { text, tokens };
}

/** Writes, locks and forbidden calls anywhere in a statement that starts like a read. */
function checkWordsInside(tokens: readonly SqlToken[], keyword: string | null, writes: (what: string) => never): void {
  const words = tokens.map(word);
  const lockAt = words.findIndex((current, index) => current === 'FOR' && ['UPDATE', 'SHARE', 'NO', 'KEY'].includes(words[index + 1] ?? ''));
  if (lockAt !== -1) writes(`SELECT … FOR ${words[lockAt + 1]}, which locks rows`);
  let depth = 0;
  for (const [index, token] of tokens.entries()) {
    if (token.text === '(') depth++;
    if (token.text === ')') depth--;
    const current = words[index];
    if (current === null || current === undefined) continue;
    const isCall = tokens[index + 1]?.text === '(';
    if (isCall && isForbiddenFunction(asciiLowerCase(current))) reject(`${onlySelect}; ${asciiLowerCase(current)}() is not allowed: ${forbiddenFunctionReason}.`);
    // A keyword followed by "(" is a function (REPLACE(), MySQL's INSERT()), not a statement.
    if (isCall || !dataModifyingKeywords.has(current)) continue;
    if (depth === 0 && keyword === 'WITH') writes(`WITH … ${current}${tokenTable(tokens, index)}, a data-modifying statement`);
    writes(`${current} inside the query (data-modifying WITH clauses and subqueries are not read-only)`);
  }
  const intoAt = words.indexOf('INTO');
  if (intoAt !== -1) {
    const target = tokens[intoAt + 1];
    writes(`SELECT … INTO${target?.kind === 'word' ? ` ${target.text}` : ''}, which writes its result`);
  }
}
