/** Characters a POSIX shell passes through unquoted. */
const plainWord = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes a word for a POSIX shell so that a pasted command receives it unchanged. */
export function quoteForShell(word: string): string {
  if (word !== '' && plainWord.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export interface InvocationFacts {
  /** `npm_lifecycle_event`: the npm script that started this process, if any. */
  readonly npmScript: string | undefined;
}

/**
 * How the person started Keel, so that printed commands can be pasted as they are: `npm run keel --` when an npm
 * script named `keel` runs it from source, else the installed binary `keel`.
 */
export function commandPrefix(facts: InvocationFacts): string {
  return facts.npmScript === 'keel' ? 'npm run keel --' : 'keel';
}

export interface HintContext {
  readonly prefix: string;
  /** The database as the person named it (`--db` or `KEEL_DB`); undefined for the default, which needs no flag. */
  readonly database: string | undefined;
}

/** A complete command line to paste: prefix, the words (quoted), and the `--db` in use. */
export function hintCommand(context: HintContext, words: readonly string[]): string {
  const database = context.database === undefined ? [] : ['--db', quoteForShell(context.database)];
  return [context.prefix, ...words.map(quoteForShell), ...database].join(' ');
}
