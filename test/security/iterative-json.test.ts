import { describe, expect, it } from 'vitest';
import { boundText, canonicalJson, hashValue, jsonTextDepth, jsonValueDepth, mapJsonStrings, utf8ByteLength, defaultToolCallLimits } from '../../src/util/index.ts';
import { boundToolUse, parseToolArguments } from '../../src/model/index.ts';

/** The recursive definition canonicalJson replaced; hashes already stored (audit chain, request blobs) depend on equal bytes. */
function recursiveCanonicalJson(value: unknown): string {
  const sortKeys = (entry: unknown): unknown => {
    if (Array.isArray(entry)) return entry.map(sortKeys);
    if (entry !== null && typeof entry === 'object') {
      const sorted: Record<string, unknown> = {};
      for (const key of Object.keys(entry).sort()) {
        const child = (entry as Record<string, unknown>)[key];
        if (child !== undefined) sorted[key] = sortKeys(child);
      }
      return sorted;
    }
    return entry;
  };
  return JSON.stringify(sortKeys(value));
}

describe('canonicalJson without recursion', () => {
  const samples: unknown[] = [
    null, 0, -0, 1.5e300, NaN, Infinity, 'text "quoted" \n \u2028 \ud800 lone', true, [], {}, [1, [2, [3]]],
    { b: 1, a: { d: [undefined, () => 1, Symbol('s'), null], c: undefined, f: () => 2 }, '': 'empty', 'é': 'ü', '10': 'ten', '9': 'nine', '4294967295': 'big', '4294967294': 'top', '01': 'lead' },
    [{ z: { y: { x: [] } } }, 'a', 2], new Date(0), { nested: new Map([[1, 2]]) },
  ];
  it('writes byte for byte what the recursive version wrote', () => {
    for (const sample of samples) expect(canonicalJson(sample)).toBe(recursiveCanonicalJson(sample));
    expect(canonicalJson(undefined)).toBeUndefined();
  });

  it('writes the same bytes on its deep path, which values nested past the fast path take', () => {
    const levels = 300;
    for (const sample of samples) {
      let wrapped: unknown = sample;
      for (let level = 0; level < levels; level += 1) wrapped = [wrapped];
      expect(canonicalJson(wrapped)).toBe(`${'['.repeat(levels)}${recursiveCanonicalJson(sample) ?? 'null'}${']'.repeat(levels)}`);
    }
  });

  it('serialises and hashes values nested 100,000 levels deep', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}{"k":1}${']'.repeat(100_000)}`) as unknown;
    const text = canonicalJson(deep);
    expect(text.length).toBe(200_007);
    expect(hashValue(deep)).toMatch(/^[0-9a-f]{64}$/);
    expect(jsonValueDepth(deep)).toBe(100_001);
  });

  it('refuses a cycle as JSON.stringify does, and accepts a value shared twice', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => canonicalJson(cycle)).toThrow(TypeError);
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });

  it('rejects a bigint as JSON.stringify does', () => {
    expect(() => canonicalJson({ big: 1n })).toThrow(TypeError);
  });
});

describe('measuring JSON text', () => {
  it('counts bracket depth outside strings, in broken text too', () => {
    expect(jsonTextDepth('{"a":"[[[[","b":[{}]}')).toBe(3);
    expect(jsonTextDepth('{"a":"\\"[[" , "b": [[')).toBe(3);
    expect(jsonTextDepth('42')).toBe(0);
  });

  it('counts UTF-8 bytes as Buffer does, lone surrogates included', () => {
    for (const text of ['plain', 'é', '€', '😀', 'a\ud800b', '\udc00', '😀😀'.slice(0, 3)]) expect(utf8ByteLength(text)).toBe(Buffer.byteLength(text, 'utf8'));
  });
});

describe('boundText', () => {
  it('keeps short text and cuts long text with the omitted byte count', () => {
    expect(boundText('short')).toBe('short');
    const bounded = boundText('é'.repeat(1000));
    expect(bounded).toBe(`${'é'.repeat(200)}… (1600 bytes omitted)`);
  });

  it('never splits a surrogate pair', () => {
    const bounded = boundText(`${'a'.repeat(199)}😀${'b'.repeat(10)}`);
    expect(bounded.startsWith(`${'a'.repeat(199)}…`)).toBe(true);
    expect(bounded).toContain('(14 bytes omitted)');
  });
});

describe('tool arguments at the model boundary', () => {
  it('refuses text over the limits before parsing it, when given limits', () => {
    const deep = `{"v":${'['.repeat(70)}${']'.repeat(70)}}`;
    expect(parseToolArguments(deep, { ...defaultToolCallLimits, maxArgumentBytes: 1024 })).toMatchObject({ input: {}, oversizedInput: { depth: 71 } });
    expect(jsonValueDepth(parseToolArguments(deep).input)).toBe(71);
  });

  it('bounds a call once: bounding it again changes nothing', () => {
    const block = { type: 'tool_use' as const, id: 't', name: 'n'.repeat(5000), input: { v: 'x'.repeat(2_000_000) } };
    const once = boundToolUse(block);
    expect(once.name.length).toBeLessThan(260);
    expect(once.malformedInput?.length).toBeLessThan(260);
    expect(once.oversizedInput).toMatchObject({ bytes: 2_000_008, depth: 1 });
    expect(boundToolUse(once)).toBe(once);
  });
});

/** The recursive walk mapJsonStrings replaced in span redaction and audit well-formedness. */
function recursiveMapStrings(value: unknown, map: (text: string) => string): unknown {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((entry) => recursiveMapStrings(entry, map));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, entry]) => [map(key), recursiveMapStrings(entry, map)]));
  return value;
}

describe('mapJsonStrings without recursion', () => {
  const upper = (text: string): string => text.toUpperCase();
  const collapse = (text: string): string => (text.startsWith('secret') ? '[REDACTED]' : text);

  it('copies as the recursive walk did, keys included, later duplicates winning', () => {
    const samples: unknown[] = [
      'text', 3, null, [1, 'a', [null, { b: 'c' }]], { z: 'y', a: ['x', { k: 'v' }], n: null, u: undefined },
      { secret1: 'a', plain: 'b', secret2: 'c' }, JSON.parse('{"__proto__": "own", "x": 1}'), Object.assign(new Array<unknown>(2), { 1: 'hole' }),
    ];
    for (const sample of samples) {
      for (const map of [upper, collapse]) {
        const copy = mapJsonStrings(sample, map);
        expect(copy).toStrictEqual(recursiveMapStrings(sample, map));
        expect(canonicalJson(copy)).toBe(canonicalJson(recursiveMapStrings(sample, map)));
        // Nested past the fast path, the same copy comes out of the iterative walk.
        let wrapped: unknown = sample;
        for (let level = 0; level < 300; level += 1) wrapped = [wrapped];
        let deepCopy = mapJsonStrings(wrapped, map);
        for (let level = 0; level < 300; level += 1) deepCopy = (deepCopy as unknown[])[0];
        expect(deepCopy).toStrictEqual(recursiveMapStrings(sample, map));
      }
    }
    expect(Object.keys(mapJsonStrings({ secretA: 1, b: 2, secretB: 3 }, collapse) as object)).toEqual(['[REDACTED]', 'b']);
    expect(Object.getPrototypeOf(mapJsonStrings(JSON.parse('{"__proto__": {"polluted": true}}'), upper))).toBe(Object.prototype);
  });

  it('maps values nested 100,000 levels deep, and ends on a cycle', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}"secret"${']'.repeat(100_000)}`) as unknown;
    expect(canonicalJson(mapJsonStrings(deep, collapse))).toBe(`${'['.repeat(100_000)}"[REDACTED]"${']'.repeat(100_000)}`);
    const cycle: Record<string, unknown> = { name: 'a' };
    cycle.self = cycle;
    const copy = mapJsonStrings(cycle, upper) as Record<string, unknown>;
    expect(copy.NAME).toBe('A');
    expect(copy.SELF).toBe(copy);
  });
});
