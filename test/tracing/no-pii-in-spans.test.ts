import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { positives } from '../security/redaction-corpus.ts';
import { receivedSpans, startOtlpReceiver } from './helpers.ts';

/** Every sensitive value of the redaction corpus travels through a session's input, tool input, tool output and answer. */
describe('no personal data or secrets leave in spans', () => {
  it('with content capture on, every corpus value is redacted in the exported spans', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const sensitive = positives.flatMap((sample) => sample.secrets.map((secret) => secret.value));
      const corpusText = positives.map((sample) => sample.text).join('\n');
      const model = createScriptedModel([
        { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'echo', input: { text: corpusText } }], usage: { input_tokens: 10, output_tokens: 10 } },
        { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: corpusText }], usage: { input_tokens: 10, output_tokens: 10 } },
      ]);
      const echo = defineTool({ name: 'echo', description: 'echo', input: z.object({ text: z.string() }), risk: 'read', execute: ({ text }) => text });
      const keel = createKeel({
        database: ':memory:',
        model,
        redaction: false,
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true' },
      });
      const agent = defineAgent({ name: 'echoer', instructions: 'x', tools: [echo] });
      await keel.run(agent, corpusText).result;
      await keel.close();
      const exported = JSON.stringify(receivedSpans(receiver));
      // With `redaction: false` the tool output itself is not redacted, so the span redactor is the only line of defence here.
      expect(exported).toContain('gen_ai.tool.call.arguments');
      expect(exported).toContain('[REDACTED:');
      const leaks = sensitive.filter((value) => exported.includes(JSON.stringify(value).slice(1, -1)));
      expect(leaks).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
