import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chainRecord, genesisHash, normalizeAuditEntry, recordHash, verifyChain } from '../../src/store/index.ts';
import { linkNormalizedEntry } from '../../src/store/audit-chain.ts';
import type { AuditEntry, AuditHead, AuditRecord } from '../../src/store/index.ts';
import { sampleEntry } from './audit-samples.ts';

function buildChain(entries: readonly AuditEntry[], start = Date.UTC(2026, 0, 1)): AuditRecord[] {
  const records: AuditRecord[] = [];
  let head: AuditHead = { seq: 0, hash: genesisHash };
  entries.forEach((entry, index) => {
    const record = chainRecord(entry, head, start + index * 1000);
    records.push(record);
    head = { seq: record.seq, hash: record.hash };
  });
  return records;
}

function headOf(records: readonly AuditRecord[]): AuditHead {
  const last = records.at(-1);
  return last === undefined ? { seq: 0, hash: genesisHash } : { seq: last.seq, hash: last.hash };
}

const text = fc.string({ minLength: 1, maxLength: 12 });
const hex = fc.stringMatching(/^[0-9a-f]{64}$/);
const entryArbitrary: fc.Arbitrary<AuditEntry> = fc.record({
  sessionId: text,
  turn: fc.nat(50),
  callId: text,
  agent: text,
  tool: text,
  input: fc.jsonValue({ maxDepth: 2 }),
  decision: fc.constantFrom('allow', 'deny', 'ask'),
  rule: text,
  approver: fc.option(text, { nil: null }),
  inputEdited: fc.boolean(),
  resultDigest: fc.option(hex, { nil: null }),
  outputChars: fc.option(fc.nat(100_000), { nil: null }),
  outputBlob: fc.option(hex, { nil: null }),
  durationMs: fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true }),
  error: fc.option(fc.record({ code: text, message: fc.string({ maxLength: 40 }) }), { nil: null }),
  findings: fc.array(fc.record({ type: text, count: fc.integer({ min: 1, max: 9 }) }), { maxLength: 3 }),
});

type Field = keyof AuditRecord;
const fields: readonly Field[] = [
  'seq', 'at', 'sessionId', 'turn', 'callId', 'agent', 'tool', 'input', 'decision', 'rule', 'approver', 'inputEdited',
  'resultDigest', 'outputChars', 'outputBlob', 'durationMs', 'error', 'findings', 'previousHash', 'hash',
];

/** A value for the field that differs from the current one in canonical JSON. */
function changed(record: AuditRecord, field: Field): unknown {
  const value = record[field];
  switch (field) {
    case 'decision':
      return value === 'allow' ? 'deny' : 'allow';
    case 'inputEdited':
      return !value;
    case 'input':
      return { tampered: value };
    case 'error':
      return value === null ? { code: 'tool-failed', message: 'invented' } : { ...(value as object), message: `${(value as { message: string }).message}!` };
    case 'findings':
      return [...(value as unknown[]), { type: 'invented', count: 1 }];
    case 'previousHash':
    case 'hash':
      return `${(value as string).slice(0, -1)}${(value as string).endsWith('0') ? '1' : '0'}`;
    default:
      if (value === null) return field === 'outputChars' ? 1 : 'invented';
      if (typeof value === 'number') return value + 1;
      return `${String(value)}x`;
  }
}

type Mutation =
  | { kind: 'edit'; index: number; field: Field }
  | { kind: 'remove'; index: number }
  | { kind: 'move'; from: number; to: number }
  | { kind: 'swap-content'; first: number; second: number }
  | { kind: 'duplicate'; index: number };

/** Applies the mutation to a copy and returns the seq verification must name. */
function mutate(records: readonly AuditRecord[], mutation: Mutation): { tampered: AuditRecord[]; firstBadSeq: number } {
  const tampered = records.map((record) => ({ ...record }));
  switch (mutation.kind) {
    case 'edit':
      (tampered[mutation.index] as Record<string, unknown>)[mutation.field] = changed(records[mutation.index]!, mutation.field);
      return { tampered, firstBadSeq: mutation.index + 1 };
    case 'remove':
      tampered.splice(mutation.index, 1);
      return { tampered, firstBadSeq: mutation.index + 1 };
    case 'move': {
      const [moved] = tampered.splice(mutation.from, 1);
      tampered.splice(mutation.to, 0, moved!);
      return { tampered, firstBadSeq: Math.min(mutation.from, mutation.to) + 1 };
    }
    case 'swap-content': {
      // As in SQLite when two rows exchange their seq: each position keeps its seq but holds the other record.
      const first = tampered[mutation.first]!;
      const second = tampered[mutation.second]!;
      tampered[mutation.first] = { ...second, seq: first.seq };
      tampered[mutation.second] = { ...first, seq: second.seq };
      return { tampered, firstBadSeq: Math.min(mutation.first, mutation.second) + 1 };
    }
    case 'duplicate':
      tampered.splice(mutation.index + 1, 0, { ...records[mutation.index]! });
      return { tampered, firstBadSeq: mutation.index + 2 };
  }
}

function mutationArbitrary(length: number): fc.Arbitrary<Mutation> {
  const index = fc.nat(length - 1);
  const options: fc.Arbitrary<Mutation>[] = [
    fc.record({ kind: fc.constant('edit' as const), index, field: fc.constantFrom(...fields) }),
    fc.record({ kind: fc.constant('remove' as const), index }),
    fc.record({ kind: fc.constant('duplicate' as const), index }),
  ];
  if (length > 1) {
    const pair = fc.tuple(index, index).filter(([first, second]) => first !== second);
    options.push(pair.map(([from, to]): Mutation => ({ kind: 'move', from, to })));
    options.push(pair.map(([first, second]): Mutation => ({ kind: 'swap-content', first, second })));
  }
  return fc.oneof(...options);
}

describe('audit chain', () => {
  it('verifies any chain it builds, also after a JSON round trip', () => {
    fc.assert(
      fc.property(fc.array(entryArbitrary, { maxLength: 8 }), (entries) => {
        const records = buildChain(entries);
        const head = headOf(records);
        expect(verifyChain(records, head)).toEqual({ ok: true, records: records.length, head });
        const reloaded = JSON.parse(JSON.stringify(records)) as AuditRecord[];
        expect(verifyChain(reloaded, head)).toEqual({ ok: true, records: records.length, head });
      }),
      { numRuns: 200 },
    );
  });

  it('detects any single edit, removal, move, content swap or duplication, and names the first bad seq', () => {
    const scenario = fc.array(entryArbitrary, { minLength: 1, maxLength: 8 }).chain((entries) => fc.tuple(fc.constant(entries), mutationArbitrary(entries.length)));
    fc.assert(
      fc.property(scenario, ([entries, mutation]) => {
        const records = buildChain(entries);
        const { tampered, firstBadSeq } = mutate(records, mutation);
        const result = verifyChain(tampered, headOf(records));
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.firstBadSeq).toBe(firstBadSeq);
      }),
      { numRuns: 1000 },
    );
  });

  it('names removal from the end only against a head kept elsewhere', () => {
    const records = buildChain([0, 1, 2, 3].map((index) => sampleEntry(index)));
    expect(verifyChain(records.slice(0, 2)).ok).toBe(true);
    expect(verifyChain(records.slice(0, 2), headOf(records))).toEqual({
      ok: false,
      firstBadSeq: 3,
      problem: 'records 3 to 4 are missing: the log ends at record 2, but its head says 4 records were written; records were removed from the end',
    });
  });

  it('describes each kind of break in words that name the records involved', () => {
    const records = buildChain([0, 1, 2, 3].map((index) => sampleEntry(index)));
    expect(verifyChain([records[0]!, records[2]!, records[3]!])).toMatchObject({ firstBadSeq: 2, problem: 'record 2 is missing: the log goes from record 1 to record 3' });
    expect(verifyChain([records[1]!])).toMatchObject({ firstBadSeq: 1, problem: 'record 1 is missing: the log goes from its start to record 2' });
    expect(verifyChain([records[0]!, records[1]!, records[1]!])).toMatchObject({ firstBadSeq: 3, problem: expect.stringMatching(/^the record after record 2 carries seq 2: records were duplicated or reordered/) });
    expect(verifyChain([{ ...records[0]!, previousHash: 'f'.repeat(64) }])).toMatchObject({
      firstBadSeq: 1,
      problem: expect.stringMatching(/^record 1 does not follow the start of the log: it names ffffffffffff… as its predecessor's hash, but the start of the log hashes to 000000000000…/),
    });
    expect(verifyChain([], { seq: 0, hash: 'a'.repeat(64) })).toMatchObject({ firstBadSeq: 1, problem: expect.stringMatching(/the log is empty, but its head names hash/) });
  });

  it('hashes the record as sha256(previousHash + canonical JSON without the hash)', async () => {
    const { sha256, canonicalJson } = await import('../../src/util/index.ts');
    const [record] = buildChain([sampleEntry(0)]);
    const { hash, ...content } = record!;
    expect(hash).toBe(sha256(genesisHash + canonicalJson(content)));
  });

  it('links an entry into the same record, field for field and in the same order, as spreading it would', () => {
    const head: AuditHead = { seq: 41, hash: 'a'.repeat(64) };
    const spread = (entry: AuditEntry): AuditRecord => {
      const content = { ...entry, seq: head.seq + 1, at: 7, previousHash: head.hash };
      return { ...content, hash: recordHash(content) };
    };
    fc.assert(
      fc.property(entryArbitrary, fc.boolean(), (entry, extraField) => {
        // A caller's entry with a field normalizeAuditEntry would have dropped takes the general path, and keeps it.
        const normalized = extraField ? { ...normalizeAuditEntry(entry), extra: 'kept' } : normalizeAuditEntry(entry);
        const linked = linkNormalizedEntry(normalized, head, 7);
        expect(linked).toStrictEqual(spread(normalized));
        expect(Object.keys(linked)).toEqual(Object.keys(spread(normalized)));
      }),
      { numRuns: 200 },
    );
  });
});
