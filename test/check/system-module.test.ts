import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemFromModule } from '../../src/check/index.ts';
import { resolveSystemModule } from '../../src/cli/check-command.ts';
import { defineAgent } from '../../src/loop/index.ts';
import { agentStep, chain } from '../../src/workflow/index.ts';

const desk = defineAgent({ name: 'desk', instructions: 'Route.' });
const billing = defineAgent({ name: 'billing', instructions: 'Bill.' });
const workflow = chain<string>('flow').then(agentStep(billing));
const policy = { rules: [{ name: 'r', tools: ['x'], decision: 'deny' as const, reason: 'no' }] };

describe('what a module may export', () => {
  it('takes an agent, a workflow, an array or an object of them, and the policy and budget exports', () => {
    expect(systemFromModule({ default: desk }, 'm.ts')).toEqual({ agents: [desk], workflows: [] });
    expect(systemFromModule({ default: [desk, workflow], policy, budget: { costUsd: 1 } }, 'm.ts')).toEqual({ agents: [desk], workflows: [workflow], policy, budget: { costUsd: 1 } });
    expect(systemFromModule({ default: { desk, billing } }, 'm.ts').agents).toEqual([desk, billing]);
  });

  it('unwraps a CommonJS module compiled from export default', () => {
    expect(systemFromModule({ default: { default: desk, policy } }, 'm.cjs')).toEqual({ agents: [desk], workflows: [], policy });
  });

  it('names what is wrong with a module it cannot read', () => {
    expect(() => systemFromModule({}, 'm.ts')).toThrow(/m\.ts has no default export/);
    expect(() => systemFromModule({ default: [desk, 'billing'] }, 'm.ts')).toThrow(/default export\[1\] is neither an agent nor a workflow/);
    expect(() => systemFromModule({ default: { desk, other: 3 } }, 'm.ts')).toThrow(/default export\.other/);
    expect(() => systemFromModule({ default: desk, policy: { rules: 'all' } }, 'm.ts')).toThrow(/named export `policy`/);
    expect(() => systemFromModule({ default: desk, budget: { tokens: -1 } }, 'm.ts')).toThrow(/budget\.tokens must be a positive number/);
  });
});

describe('a folder stands for its system module', () => {
  const folder = mkdtempSync(join(tmpdir(), 'keel-check-'));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('prefers system.ts over agent.ts, and takes a file as it is', () => {
    writeFileSync(join(folder, 'agent.ts'), 'export default 1;\n');
    expect(resolveSystemModule(folder, '/')).toBe(join(folder, 'agent.ts'));
    writeFileSync(join(folder, 'system.mjs'), 'export default 1;\n');
    expect(resolveSystemModule(folder, '/')).toBe(join(folder, 'system.mjs'));
    expect(resolveSystemModule('agent.ts', folder)).toBe(join(folder, 'agent.ts'));
  });
});
