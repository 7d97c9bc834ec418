import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { asTool, childSessionId, defineAgent } from '../../src/loop/index.ts';
import { answer, note, scratchKeel, toolCall, toolCalls } from './subagent-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function keelCommand(args: readonly string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const code = await main(args, { out: (line) => lines.push(line), err: (line) => lines.push(line), env: {} });
  return { code, out: lines.join('\n') };
}

describe('the command line shows a session tree', () => {
  it('lists children under their parent (sessions --tree) and in the trace', async () => {
    const analyst = defineAgent({ name: 'analyst', instructions: 'Analyse.', tools: [note], model: 'analyst', streaming: false });
    const manager = defineAgent({ name: 'manager', instructions: 'Delegate.', tools: [asTool(analyst, { description: 'Analyses.' })], model: 'manager', streaming: false });
    const root = defineAgent({ name: 'root', instructions: 'Delegate.', tools: [asTool(manager, { description: 'Manages.' })], model: 'root', streaming: false });
    const scratch = scratchKeel({
      root: [toolCall('manager', { task: 'Manage it.' }, 'm1'), answer('root done')],
      manager: [toolCalls([{ name: 'analyst', input: { task: 'Look at A.' }, id: 'a1' }, { name: 'analyst', input: { task: 'Look at B.' }, id: 'a2' }]), answer('manager done')],
      analyst: [toolCall('note', { text: 'x' }), answer('analysed')],
    });
    cleanups.push(scratch.cleanup);
    const result = await scratch.keel.run(root, { task: 'Go.', sessionId: 'ses_root_cli' }).result;
    expect(result.status).toBe('completed');
    const database = join(scratch.directory, 'keel.db');
    const managerId = childSessionId('ses_root_cli', 'm1');

    const listed = await keelCommand(['sessions', '--tree', '--db', database]);
    expect(listed.code).toBe(0);
    const lines = listed.out.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^ses_root_cli .* completed .* root$/);
    expect(lines[1]).toMatch(new RegExp(`^└─ ${managerId} .* manager \\(tool\\)$`));
    expect(lines[2]).toMatch(new RegExp(`^   ├─ ${childSessionId(managerId, 'a1')} .* analyst \\(tool\\)$`));
    expect(lines[3]).toMatch(new RegExp(`^   └─ ${childSessionId(managerId, 'a2')} .* analyst \\(tool\\)$`));

    const trace = await keelCommand(['trace', 'ses_root_cli', '--db', database]);
    expect(trace.out).toContain(`child session ${managerId}  agent=manager  completed  tokens in=`);
    expect(trace.out).toMatch(/Child sessions: 1 {2}tokens in=/);
  });
});
