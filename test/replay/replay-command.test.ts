import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replayCommand } from '../../src/cli/replay-command.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { sha256 } from '../../src/util/index.ts';
import { supportAgent, supportTask } from './fixtures.ts';
import { boundaryOf } from '../helpers/trust-layout.ts';
import { trustedSystem } from '../../src/context/index.ts';

const script = [
  { model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'Looking.' }, { type: 'tool_use', id: 'c1', name: 'lookup_customer', input: { id: 'cus_1' } }], usage: { input_tokens: 300, output_tokens: 20 } },
  { model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'Alice is on the pro plan.' }], usage: { input_tokens: 500, output_tokens: 10 } },
];
const alternative = [
  { model: 'claude-haiku-4-5', content: [{ type: 'text', text: 'I would rather list the orders.' }, { type: 'tool_use', name: 'list_orders', input: { customerId: 'cus_1' } }], usage: { input_tokens: 300, output_tokens: 25 } },
];

let directory: string;
let keel: Keel;
let sessionId: string;
let previousCwd: string;

function capture(): { print: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  return { print: (line) => lines.push(line), lines };
}

beforeEach(async () => {
  directory = mkdtempSync(join(tmpdir(), 'keel-replay-cli-'));
  writeFileSync(join(directory, 'script.json'), JSON.stringify(script));
  writeFileSync(join(directory, 'alternative.json'), JSON.stringify(alternative));
  writeFileSync(join(directory, 'system.txt'), 'You are terse.');
  previousCwd = process.cwd();
  process.chdir(directory);
  keel = createKeel({ database: join(directory, 'keel.db'), model: 'scripted:script.json', cwd: directory, env: {} });
  const result = await keel.run(supportAgent(), supportTask).result;
  expect(result.status).toBe('completed');
  sessionId = result.sessionId;
});

afterEach(async () => {
  await keel.close();
  process.chdir(previousCwd);
  rmSync(directory, { recursive: true, force: true });
});

describe('keel replay', () => {
  it('prints the exact request of a turn, whose hash is the journaled one', async () => {
    const out = capture();
    const err = capture();
    expect(await replayCommand(keel, [sessionId], { turn: 2, json: false }, out.print, err.print)).toBe(0);
    expect(out.lines).toHaveLength(1);
    const events = await keel.events(sessionId);
    const request = events.find((event) => event.type === 'model-request' && event.turn === 2);
    expect(request?.type === 'model-request' && sha256(out.lines[0] ?? '')).toBe(request?.type === 'model-request' ? request.requestHash : 'none');
    expect(err.lines[0]).toMatch(/turn 2: \d+ characters, sha256 [0-9a-f]{64} verified/);

    const json = capture();
    await replayCommand(keel, [sessionId], { turn: 1, json: true }, json.print, () => undefined);
    const parsed = JSON.parse(json.lines[0] ?? '') as { verified: boolean; requestHash: string; request: { system: string } };
    expect(parsed.verified).toBe(true);
    expect(parsed.request.system).toBe(trustedSystem(supportAgent().instructions, boundaryOf(events)));
  });

  it('checks every turn without --turn', async () => {
    const out = capture();
    expect(await replayCommand(keel, [sessionId], { json: false }, out.print, () => undefined)).toBe(0);
    expect(out.lines).toHaveLength(2);
    expect(out.lines[0]).toMatch(/^turn 1 {2}[0-9a-f]{64} {2}verified {2}1 messages, 2 tools/);
  });

  it('runs a counterfactual with another model and prints the differences', async () => {
    const out = capture();
    expect(await replayCommand(keel, [sessionId], { turn: 1, model: 'scripted:alternative.json', json: false }, out.print, () => undefined)).toBe(0);
    const text = out.lines.join('\n');
    expect(text).toContain(`Counterfactual of session ${sessionId}, turn 1`);
    expect(text).toContain('original:       claude-sonnet-4-5: tool_use, tool calls: lookup_customer');
    expect(text).toContain('counterfactual: claude-haiku-4-5: tool_use, tool calls: list_orders');
    expect(text).toContain('tool calls: [lookup_customer] → [list_orders]');
    expect(text).toContain('+ tool call list_orders {"customerId":"cus_1"}');
    expect(text).toContain('usage: output 20 → 25');
    // Nothing was journaled.
    expect((await keel.events(sessionId)).at(-1)?.type).toBe('session-end');
  });

  it('re-runs with another system prompt from a file, with the recorded model, as JSON', async () => {
    const out = capture();
    expect(await replayCommand(keel, [sessionId], { turn: 2, system: '@system.txt', json: true }, out.print, () => undefined)).toBe(0);
    const parsed = JSON.parse(out.lines[0] ?? '') as { changes: string[]; differences: string[]; counterfactual: { stopReason: string } };
    const recorded = trustedSystem(supportAgent().instructions, boundaryOf(await keel.events(sessionId)));
    expect(parsed.changes).toEqual([`system prompt replaced (${recorded.length} → 14 characters)`]);
    expect(parsed.differences).toEqual([]);
    expect(parsed.counterfactual.stopReason).toBe('end_turn');
  });

  it('explains what is wrong with the arguments', async () => {
    await expect(replayCommand(keel, [], { json: false }, () => undefined, () => undefined)).rejects.toThrow(/Missing session id/);
    await expect(replayCommand(keel, [sessionId], { model: 'scripted:alternative.json', json: false }, () => undefined, () => undefined)).rejects.toThrow(/--turn N/);
    await expect(replayCommand(keel, [sessionId], { turn: 0, json: false }, () => undefined, () => undefined)).rejects.toThrow(/from 1/);
    await expect(replayCommand(keel, [sessionId], { turn: 9, json: false }, () => undefined, () => undefined)).rejects.toThrow(/turns 1-2/);
  });
});
