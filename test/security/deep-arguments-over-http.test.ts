import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { createAnthropicModel, createGateway } from '../../src/model/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { canonicalJson } from '../../src/util/index.ts';
import { dependenciesFor, runToEnd } from '../helpers/loop-harness.ts';

/**
 * A provider endpoint written by hand, not with the mock server: the mock serialises replies with JSON.stringify,
 * which itself overflows on the arguments this test sends. Here the deep JSON is built as text.
 */
const depth = 50_000;
const deepArguments = `{"value":${'['.repeat(depth)}${']'.repeat(depth)}}`;
const usage = '"usage":{"input_tokens":10,"output_tokens":5}';

function wholeReply(index: number): string {
  const content = index === 0 ? `[{"type":"tool_use","id":"toolu_1","name":"echo","input":${deepArguments}}]` : '[{"type":"text","text":"Understood."}]';
  return `{"id":"msg_${index}","type":"message","role":"assistant","model":"claude-haiku-4-5","content":${content},"stop_reason":"${index === 0 ? 'tool_use' : 'end_turn'}","stop_sequence":null,${usage}}`;
}

function streamedReply(index: number): string {
  const event = (name: string, data: string): string => `event: ${name}\ndata: ${data}\n\n`;
  const start = event('message_start', `{"type":"message_start","message":{"id":"msg_${index}","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,${usage}}}`);
  const block =
    index === 0
      ? event('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"echo","input":{}}}') +
        event('content_block_delta', `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":${JSON.stringify(deepArguments)}}}`)
      : event('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}') +
        event('content_block_delta', '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Understood."}}');
  const stop = index === 0 ? 'tool_use' : 'end_turn';
  return `${start}${block}${event('content_block_stop', '{"type":"content_block_stop","index":0}')}${event('message_delta', `{"type":"message_delta","delta":{"stop_reason":"${stop}","stop_sequence":null},"usage":{"output_tokens":5}}`)}${event('message_stop', '{"type":"message_stop"}')}`;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

async function startProvider(): Promise<string> {
  let requests = 0;
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { stream?: boolean };
      const index = requests;
      requests += 1;
      if (body.stream === true) {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(streamedReply(index));
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(wholeReply(index));
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const echo = defineTool({ name: 'echo', description: 'Echoes', input: z.object({ value: z.unknown() }), risk: 'read', execute: () => 'echoed' });

describe('arguments 50,000 levels deep from a real HTTP provider', () => {
  for (const streaming of [false, true]) {
    it(`are refused as tool-invalid-input and the session completes (${streaming ? 'streamed' : 'whole'} response)`, async () => {
      const baseURL = await startProvider();
      const gateway = createGateway(createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'sk-ant-test', baseURL }), { maxRetries: 0 });
      const { result, events } = await runToEnd(defineAgent({ name: 'deep', instructions: 'x', tools: [echo], streaming }), dependenciesFor(gateway));
      expect(result.status).toBe('completed');
      const error = events.find((event) => event.type === 'tool-error');
      expect(error?.type === 'tool-error' && error.error).toMatchObject({ code: 'tool-invalid-input', message: expect.stringContaining(`nest ${depth + 1} levels deep; the limit is 64`) });
      // 100 KB of brackets came in; the journal keeps a bounded preview.
      expect(events.reduce((sum, event) => sum + canonicalJson(event).length, 0)).toBeLessThan(8_000);
    });
  }
});
