// Column values as `pg` and PGlite return them: bigint as a decimal string (pg) or a number, bytea as a Buffer or
// a Uint8Array. These turn them into what the ports promise.

/** A bigint or integer column as a number; Keel's seqs and epoch milliseconds stay far below 2^53. */
export function toNumber(value: string | number | bigint): number {
  return Number(value);
}

export function toNullableNumber(value: string | number | bigint | null): number | null {
  return value === null ? null : Number(value);
}

/** A bytea column holding UTF-8 text. */
export function fromBytes(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}

/** Text for a bytea column: PostgreSQL's text type refuses U+0000, which tool output and prompts may contain. */
export function toBytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
