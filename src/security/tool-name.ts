import { KeelError } from '../errors/index.ts';
import { boundText } from '../util/index.ts';

/**
 * Tool names as rules see them. A server can list `Delete_File`, `delete-file`, `delete.file`, `ｄｅｌｅｔｅ_ｆｉｌｅ`
 * (full-width) or `delete\u200bfile` (a zero-width space) for a tool a rule calls `delete_file`; compared as plain
 * strings, every one of them would slip past the rule. Every rule match (policy rules, MCP `riskOverrides`, rate
 * limits) compares names through `normalizeToolName` instead, and names with invisible characters are refused when
 * tools are registered (`unsafeToolNameCharacter`).
 */

/** Invisible or non-printing: controls, format characters (zero-width, bidi controls), separators of lines and paragraphs, private use, unassigned, lone surrogates, and whatever Unicode says renders as nothing. */
const invisible = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
const invisibleEverywhere = new RegExp(invisible.source, 'gu');
/** Spaces of every width, dashes of every kind, `_` and `.`: all mean "a break between words" in a tool name. */
const separators = /[\s\p{Z}\p{Pd}_.]+/gu;

/**
 * The form two names share when a person would read them as the same tool: NFKC (full-width and compatibility forms
 * become plain letters), invisible characters dropped, case folded, separators removed. `Delete_File`,
 * `delete\u200bfile`, `delete.file` and `DELETE-FILE` all normalize to `deletefile`.
 */
export function normalizeToolName(name: string): string {
  const compatible = name.normalize('NFKC').replace(invisibleEverywhere, '');
  // Upper then lower approximates full case folding: `ß` becomes `ss` and a final sigma an ordinary one.
  return compatible.toUpperCase().toLowerCase().normalize('NFKC').replace(separators, '');
}

/** The same, with separators kept as `_`, for patterns written against readable names (`/^files__write/`). */
export function foldToolName(name: string): string {
  return name.normalize('NFKC').replace(invisibleEverywhere, '').toUpperCase().toLowerCase().normalize('NFKC').replace(separators, (run) => (run.includes('__') ? '__' : '_'));
}

export interface UnsafeCharacter {
  /** `U+200B`. */
  readonly codePoint: string;
  /** Index in UTF-16 code units. */
  readonly index: number;
}

/** The first character that makes a name unfit to register, or null: an invisible or non-printing character, or a space other than U+0020. */
export function unsafeToolNameCharacter(name: string): UnsafeCharacter | null {
  let index = 0;
  for (const character of name) {
    if (invisible.test(character) || (/\p{Z}/u.test(character) && character !== ' ')) {
      return { codePoint: `U+${(character.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`, index };
    }
    index += character.length;
  }
  return null;
}

/** A name made safe to print in an error: invisible characters shown as `\u{…}` escapes, and the length bounded. */
export function printableToolName(name: string): string {
  let printable = '';
  for (const character of boundText(name)) {
    printable += unsafeToolNameCharacter(character) === null ? character : `\\u{${(character.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`;
  }
  return printable;
}

/**
 * A map from normalized names, refusing two keys that normalize alike but map to different values: with both in a
 * configuration, which one applies to a tool would depend on how the server spells it. `what` names the setting.
 */
export function normalizedNameMap<Value>(entries: Iterable<readonly [string, Value]>, what: string, same: (a: Value, b: Value) => boolean = Object.is): Map<string, Value> {
  const map = new Map<string, Value>();
  const spelled = new Map<string, string>();
  for (const [name, value] of entries) {
    const key = normalizeToolName(name);
    const earlier = spelled.get(key);
    if (earlier !== undefined && !same(map.get(key) as Value, value)) {
      throw new KeelError('invalid-config', `${what} names "${printableToolName(earlier)}" and "${printableToolName(name)}", which are the same tool name once case, separators and invisible characters are ignored, with different settings; keep one.`);
    }
    map.set(key, value);
    spelled.set(key, name);
  }
  return map;
}
