import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentHash, createProceduralMemory } from '../../src/memory/procedural-memory.ts';

describe('procedural memory', () => {
  it('publishes versions with a sha256 content hash, returns the latest or a given version, and keeps history', () => {
    let now = 1_000;
    const procedures = createProceduralMemory({ path: ':memory:', clock: { now: () => (now += 1) } });
    const first = procedures.publish('triage-system', 'You are a careful on-call assistant.');
    expect(first).toMatchObject({ name: 'triage-system', version: 1, createdAt: 1_001 });
    expect(first.contentHash).toBe(`sha256:${createHash('sha256').update('You are a careful on-call assistant.').digest('hex')}`);
    const same = procedures.publish('triage-system', 'You are a careful on-call assistant.');
    expect(same).toEqual(first);
    const second = procedures.publish('triage-system', 'You are a careful, terse on-call assistant.');
    expect(second.version).toBe(2);
    expect(procedures.get('triage-system')).toEqual(second);
    expect(procedures.get('triage-system', 1)).toEqual(first);
    expect(procedures.get('triage-system', 7)).toBeUndefined();
    expect(procedures.get('unknown')).toBeUndefined();
    expect(procedures.history('triage-system').map((version) => version.version)).toEqual([1, 2]);
    procedures.close();
  });

  it('hashes few-shot sets by canonical JSON, so key order does not make a new version, and persists across reopen', () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-procedures-'));
    const path = join(directory, 'memory.db');
    const procedures = createProceduralMemory({ path });
    const shots = procedures.publish('triage-shots', [{ input: 'disk full', output: 'page storage' }]);
    expect(procedures.publish('triage-shots', [{ output: 'page storage', input: 'disk full' }]).version).toBe(1);
    expect(contentHash([{ output: 'page storage', input: 'disk full' }])).toBe(shots.contentHash);
    procedures.close();
    const reopened = createProceduralMemory({ path });
    expect(reopened.get('triage-shots')).toEqual(shots);
    reopened.close();
    rmSync(directory, { recursive: true, force: true });
  });
});
