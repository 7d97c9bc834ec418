/**
 * Lower-cases A to Z only. SQL engines such as SQLite fold only ASCII letters when they compare identifiers, while
 * `toLowerCase` also folds others (the Kelvin sign K becomes k): a check that folds more than the engine does can be
 * told one name while the engine reads another.
 */
export function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => String.fromCharCode(letter.charCodeAt(0) + 32));
}
