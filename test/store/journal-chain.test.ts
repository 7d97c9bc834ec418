import { describe, expect, it } from 'vitest';
import { chainHash, journalChainGenesis } from '../../src/store/journal-chain.ts';

// The chain is part of the stored format: databases written by earlier versions are checked against these hashes.
describe('journal hash chain', () => {
  it('hashes an event as every earlier version did, for short and long bodies alike', () => {
    const short = { sessionId: 'ses_a', seq: 3, keyId: null, body: '{"type":"turn-start","turn":1,"note":"é ✓"}' };
    const long = { sessionId: 'ses_a', seq: 4, keyId: 'k0123456789abcdef', body: `${'x'.repeat(70_000)}é` };
    expect(chainHash(journalChainGenesis, short)).toBe('955462ac793163311c3cdb741beea82d99f136288c2ce323fa07d334fa6382ef');
    expect(chainHash('abc', long)).toBe('2121171d0def31e81b4c7979a187d686af1e32c34c2a3cb1d9fe099873068958');
  });
});
