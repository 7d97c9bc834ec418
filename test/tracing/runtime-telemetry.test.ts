import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { receivedSpans, startOtlpReceiver } from './helpers.ts';

describe('createKeel exports live spans when an OTLP endpoint is configured', () => {
  it('sends the session, turns, chat and tool spans to the collector named by OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const model = createScriptedModel([
        { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { key: 'a' } }], usage: { input_tokens: 120, output_tokens: 9 } },
        { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'The value is 42.' }], usage: { input_tokens: 150, output_tokens: 7 } },
      ]);
      const lookup = defineTool({ name: 'lookup', description: 'Look up', input: z.object({ key: z.string() }), risk: 'read', execute: () => '42' });
      const keel = createKeel({ database: ':memory:', model, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'keel-test' } });
      const result = await keel.run(defineAgent({ name: 'looker', instructions: 'x', tools: [lookup] }), 'find a').result;
      expect(result.status).toBe('completed');
      await keel.close();
      const spans = receivedSpans(receiver).map(({ span }) => span);
      const names = spans.map((span) => span.name).sort();
      expect(names).toEqual(['agent_turn', 'agent_turn', 'chat scripted', 'chat scripted', 'context_assembly', 'context_assembly', 'execute_tool lookup', 'invoke_agent looker'].sort());
      const root = spans.find((span) => span.name === 'invoke_agent looker');
      expect(spans.filter((span) => span !== root).every((span) => span.traceId === root?.traceId)).toBe(true);
      expect(receivedSpans(receiver)[0]?.resource).toMatchObject({ 'service.name': 'keel-test' });
    } finally {
      await receiver.close();
    }
  });
});

describe('a session resumed by another process keeps its trace', () => {
  it('the resumed spans are exported, in the same trace, under the session\u2019s root span', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const folder = mkdtempSync(join(tmpdir(), 'keel-resume-trace-'));
    const receiver = await startOtlpReceiver();
    try {
      const script = [
        { role: 'assistant' as const, model: 'claude-sonnet-4-6', content: [{ type: 'tool_use' as const, id: 'toolu_1', name: 'wipe', input: { disk: 'sdb' } }], usage: { input_tokens: 120, output_tokens: 9 } },
        { role: 'assistant' as const, model: 'claude-sonnet-4-6', content: [{ type: 'text' as const, text: 'Wiped.' }], usage: { input_tokens: 150, output_tokens: 7 } },
      ];
      const wipe = defineTool({ name: 'wipe', description: 'Wipe a disk', input: z.object({ disk: z.string() }), risk: 'irreversible', execute: () => 'wiped' });
      const agent = defineAgent({ name: 'admin', instructions: 'x', tools: [wipe] });
      const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
      const database = join(folder, 'keel.db');
      const first = createKeel({ database, model: createScriptedModel(script), env });
      const suspended = await first.run(agent, 'wipe sdb').result;
      expect(suspended.status).toBe('awaiting-approval');
      await first.close();
      const before = receivedSpans(receiver).length;

      const second = createKeel({ database, model: createScriptedModel(script), env });
      const resumed = await (await second.decide(agent, suspended.sessionId, 'toolu_1', { approved: true, approver: 'ops@example.com' })).result;
      expect(resumed.status).toBe('completed');
      await second.close();
      const spans = receivedSpans(receiver).map(({ span }) => span);
      const later = spans.slice(before);
      const names = later.map((span) => span.name);
      expect(names).toContain('execute_tool wipe');
      expect(names).toContain('chat scripted');
      const root = spans.find((span) => span.name === 'invoke_agent admin');
      expect(later.every((span) => span.traceId === root?.traceId)).toBe(true);
      const tool = later.find((span) => span.name === 'execute_tool wipe');
      const turns = spans.filter((span) => span.name === 'agent_turn').map((span) => span.spanId);
      expect(turns).toContain(tool?.parentSpanId);
    } finally {
      await receiver.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
