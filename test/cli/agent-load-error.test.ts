import { describe, expect, it } from 'vitest';
import { keel } from './run-cli.ts';

describe('an agent module that throws while it is imported', () => {
  it('is reported with its own error and the stack that points into the module', () => {
    const result = keel(['run', 'test/cli/fixtures/throwing-agent.ts', '--model', 'scripted:test/fixtures/agents/refund-model.json', '--db', ':memory:']);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('keel: invalid-config: Could not load agent module');
    expect(result.stderr).toContain('settings file is missing the "region" key');
    // The frame of the function that threw, with its file: where to look.
    expect(result.stderr).toMatch(/at readSettings \(.*throwing-agent\.ts:\d+:\d+\)/);
  });
});
