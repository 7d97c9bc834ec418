import { randomFillSync } from 'node:crypto';

const alphabet = '0123456789abcdefghjkmnpqrstvwxyz';

/** Random bytes drawn from the CSPRNG a pool at a time: one system call per 409 ids instead of one per id (about 20 µs each). */
const poolBytes = 4096;
const idRandomBytes = 10;
const pool = Buffer.allocUnsafe(poolBytes);
let poolOffset = poolBytes;

function nextRandomOffset(): number {
  if (poolOffset + idRandomBytes > poolBytes) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += idRandomBytes;
  return offset;
}

/** A time-ordered id (48-bit millisecond time, then 80 random bits), Crockford base32, with a readable prefix: `ses_01j…`. */
export function createId(prefix: string, now: number = Date.now()): string {
  let time = '';
  let remaining = now;
  for (let index = 0; index < 10; index += 1) {
    time = alphabet[remaining % 32] + time;
    remaining = Math.floor(remaining / 32);
  }
  const start = nextRandomOffset();
  const end = start + idRandomBytes;
  let tail = '';
  for (let index = 0; index < 16; index += 1) {
    const bitOffset = index * 5;
    const byte = start + (bitOffset >> 3);
    const shift = bitOffset & 7;
    // The byte after the id's last one is not part of its randomness: it is read as 0, as before.
    const word = ((pool[byte] ?? 0) << 8) | (byte + 1 < end ? (pool[byte + 1] ?? 0) : 0);
    tail += alphabet[(word >> (11 - shift)) & 31];
  }
  return `${prefix}_${time}${tail}`;
}
