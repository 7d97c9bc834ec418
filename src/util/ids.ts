import { randomBytes } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/** A time-ordered id (48-bit millisecond time, then 80 random bits), Crockford base32, with a readable prefix: `ses_01j…`. */
export function createId(prefix: string, now: number = Date.now()): string {
  let time = '';
  let remaining = now;
  for (let index = 0; index < 10; index += 1) {
    time = alphabet[remaining % 32] + time;
    remaining = Math.floor(remaining / 32);
  }
  const random = randomBytes(10);
  let tail = '';
  for (let index = 0; index < 16; index += 1) {
    const bitOffset = index * 5;
    const byte = bitOffset >> 3;
    const shift = bitOffset & 7;
    const word = ((random[byte] ?? 0) << 8) | (random[byte + 1] ?? 0);
    tail += alphabet[(word >> (11 - shift)) & 31];
  }
  return `${prefix}_${time}${tail}`;
}
