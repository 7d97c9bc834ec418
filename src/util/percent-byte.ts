function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

/** The byte a `%XX` escape at `index` stands for, or -1 when there is none (a lone `%`, a non-hex digit). */
export function percentByte(text: string, index: number): number {
  if (text.charCodeAt(index) !== 37) return -1;
  const high = hexValue(text.charCodeAt(index + 1));
  const low = hexValue(text.charCodeAt(index + 2));
  return high === -1 || low === -1 ? -1 : high * 16 + low;
}
