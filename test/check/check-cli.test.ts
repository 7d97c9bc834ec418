import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { root } from '../cli/run-cli.ts';

interface Outcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `keel check …` through the CLI's entry, in this process (as the other CLI tests run commands). */
async function keelCheck(args: readonly string[]): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['check', ...args], { out: (line) => out.push(line), err: (line) => err.push(line), env: {}, cwd: root });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

interface JsonReport {
  readonly holds: boolean;
  readonly properties: readonly { readonly id: string; readonly holds: boolean; readonly violations: readonly { readonly path: readonly string[]; readonly message: string }[]; readonly facts: readonly unknown[] }[];
}

function failing(report: JsonReport): string[] {
  return report.properties.filter((property) => !property.holds).map((property) => property.id);
}

describe('keel check finds the planted problems and prints the offending path', () => {
  it('an escalation path: triage hands to billing, whose policy rule refunds without approval', async () => {
    const result = await keelCheck(['test/check/fixtures/escalation.ts']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('FAIL approval');
    expect(result.out).toContain('triage → handoff(billing) → refund_payment');
    expect(result.out).toContain('rule "billing-refunds-unattended"');
    const json = JSON.parse((await keelCheck(['test/check/fixtures/escalation.ts', '--json'])).out) as JsonReport;
    expect(failing(json)).toEqual(['approval']);
    expect(json.properties.find((property) => property.id === 'approval')?.violations.map((violation) => violation.path)).toEqual([['triage', 'handoff(billing)', 'refund_payment']]);
  });

  it('an unbounded loop: planner and reviewer delegate to each other with no deadline or budget', async () => {
    const result = await keelCheck(['test/check/fixtures/unbounded-loop.ts']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('FAIL bounded');
    expect(result.out).toContain('lead → asTool(planner) → asTool(reviewer) → asTool(planner)');
    expect(result.out).toContain('planner ⇄ reviewer');
  });

  it('a scope widening: triage hands conversations to an admin agent that declares users:delete', async () => {
    const result = await keelCheck(['test/check/fixtures/scope-widening.ts', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.out) as JsonReport;
    expect(failing(report)).toEqual(['scopes']);
    const violation = report.properties.find((property) => property.id === 'scopes')?.violations[0];
    expect(violation?.path).toEqual(['support', 'asTool(triage)', 'handoff(admin)']);
    expect(violation?.message).toContain('{users:delete}');
  });

  it('--explain prints the facts each proof relied on', async () => {
    const result = await keelCheck(['test/check/fixtures/escalation.ts', '--explain']);
    expect(result.out).toContain('relied on:');
    expect(result.out).toContain('triage: one session ends by maxTurns 3');
    expect(result.out).toContain('triage → handoff(billing): {} ⊆ {}');
    expect(result.out).toContain('billing/refund_payment: irreversible; declares idempotent: true');
    const plain = await keelCheck(['test/check/fixtures/escalation.ts']);
    expect(plain.out).not.toContain('relied on:');
  });

  it('refuses a module it cannot check with an error naming what to export', async () => {
    const missing = await keelCheck(['test/check/fixtures/does-not-exist.ts']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('Module not found');
    const folder = await keelCheck(['test/check']);
    expect(folder.code).toBe(2);
    expect(folder.err).toContain('system.ts');
  });

  it('exits 1 from a real process on a violation', () => {
    const result = spawnSync(process.execPath, [join(root, 'bin', 'keel.js'), 'check', 'test/check/fixtures/scope-widening.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('support → asTool(triage) → handoff(admin)');
  });
});

// CI runs keel check on every example: each folder under examples/ is enumerated, so a new example is covered.
describe('every example passes keel check', () => {
  const examples = readdirSync(join(root, 'examples'), { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);

  it('finds the examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
  });

  for (const example of examples) {
    it(`examples/${example}`, async () => {
      const result = await keelCheck([join('examples', example), '--json']);
      const report = result.out === '' ? null : (JSON.parse(result.out) as JsonReport);
      expect({ code: result.code, failing: report === null ? result.err : failing(report) }).toEqual({ code: 0, failing: [] });
    });
  }
});
