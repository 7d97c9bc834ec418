import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import type { ToolResultEvent } from '../../src/spec/events.ts';
import { createMemoryBlobStore } from '../../src/store/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createSanitizeStage } from '../../src/tools/stages/sanitize.ts';
import { dependenciesFor, runToEnd } from '../helpers/loop-harness.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { githubClassic } from './redaction-corpus.ts';

/**
 * End to end through the loop: the model sees the personal data its tool reveals and no secret, and the
 * journal's tool-result event says what was redacted and where, never the value.
 */
describe('redaction findings in the journal', () => {
  it('journals the kind and place of every redaction with the tool result, and shows the model what the tool reveals', async () => {
    const token = githubClassic(301);
    const lookup = defineTool({
      name: 'lookup_customer',
      description: 'Finds a customer',
      input: z.object({ id: z.string() }),
      risk: 'read',
      redaction: { reveal: [{ type: 'email', paths: ['/email'] }] },
      execute: () => ({ email: 'ann@example.com', phone: '+44 20 7946 0958', note: `deploy token ${token}` }),
    });
    const agent = defineAgent({ name: 'support', instructions: 'Help.', tools: [lookup] });
    const model = scriptedCaller([{ content: [toolUse('call_1', 'lookup_customer', { id: 'c1' })] }, { content: [text('done')] }]);
    const blobs = createMemoryBlobStore();
    const dependencies = dependenciesFor(model, { blobs, tools: createToolPipeline({ executeStages: [createSanitizeStage({ blobs })] }) });

    const { events } = await runToEnd(agent, dependencies);

    const result = events.find((event): event is ToolResultEvent => event.type === 'tool-result');
    expect(result).toBeDefined();
    expect(JSON.parse(result!.output)).toEqual({ email: 'ann@example.com', phone: '[REDACTED:phone]', note: 'deploy token [REDACTED:github-token]' });
    expect(result!.redactions).toEqual([
      { type: 'phone', offset: 0, path: '/phone' },
      { type: 'github-token', offset: 13, path: '/note' },
    ]);
    expect(JSON.stringify(events)).not.toContain(token);
    const seenByModel = JSON.stringify(model.requests[1]!.messages);
    expect(seenByModel).toContain('ann@example.com');
    expect(seenByModel).not.toContain(token);
    // The whole number, not a fragment: the random fence boundary around tool output may hold any digits.
    expect(seenByModel).not.toContain('7946 0958');
  });
});
