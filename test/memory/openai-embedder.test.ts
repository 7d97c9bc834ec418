import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIEmbedder } from '../../src/memory/openai-embedder.ts';
import { expectKeelError } from '../../src/testing/contracts/index.ts';

interface Received {
  readonly path: string;
  readonly authorization: string | undefined;
  readonly body: { model: string; input: string[]; encoding_format?: string; dimensions?: number };
}

/** A tiny `/v1/embeddings` that answers with vectors derived from each text's length, in reversed order (as the API may). */
let server: Server;
let baseURL: string;
const received: Received[] = [];
let mode: 'ok' | 'unauthorized' | 'wrong-size' = 'ok';

async function readBody(request: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of request) body += String(chunk);
  return body;
}

beforeAll(async () => {
  server = createServer((request, response) => {
    void readBody(request).then((raw) => {
      const body = JSON.parse(raw) as Received['body'];
      received.push({ path: request.url ?? '', authorization: request.headers.authorization, body });
      response.setHeader('content-type', 'application/json');
      if (mode === 'unauthorized') {
        response.statusCode = 401;
        response.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
        return;
      }
      const size = mode === 'wrong-size' ? 2 : (body.dimensions ?? 4);
      const data = body.input.map((text, index) => ({ object: 'embedding', index, embedding: Array.from({ length: size }, (_, d) => text.length + d) })).reverse();
      response.end(JSON.stringify({ object: 'list', data, model: body.model, usage: { prompt_tokens: 1, total_tokens: 1 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('OpenAI-compatible embedder', () => {
  it('posts to /v1/embeddings with the key, model and float encoding, batches, and restores input order', async () => {
    mode = 'ok';
    received.length = 0;
    const embedder = createOpenAIEmbedder({ model: 'nomic-embed-text', dimensions: 4, apiKey: 'sk-test', baseURL, batchSize: 2, maxRetries: 0 });
    expect(embedder.id).toBe('openai:nomic-embed-text@4');
    const vectors = await embedder.embed(['a', 'bbb', 'cc']);
    expect(vectors.map((vector) => Array.from(vector))).toEqual([
      [1, 2, 3, 4],
      [3, 4, 5, 6],
      [2, 3, 4, 5],
    ]);
    expect(received.map((request) => request.body.input)).toEqual([['a', 'bbb'], ['cc']]);
    expect(received[0]?.path).toBe('/v1/embeddings');
    expect(received[0]?.authorization).toBe('Bearer sk-test');
    expect(received[0]?.body).toMatchObject({ model: 'nomic-embed-text', encoding_format: 'float' });
    expect(received[0]?.body.dimensions).toBeUndefined();
  });

  it('sends dimensions to text-embedding-3 models, and needs no key with a base URL (Ollama)', async () => {
    mode = 'ok';
    received.length = 0;
    const previous = process.env.OPENAI_API_KEY;
    delete process.env.OPENAI_API_KEY;
    try {
      const embedder = createOpenAIEmbedder({ model: 'text-embedding-3-small', dimensions: 8, baseURL, maxRetries: 0 });
      const [vector] = await embedder.embed(['hello']);
      expect(vector).toHaveLength(8);
      expect(received[0]?.body.dimensions).toBe(8);
      expect(() => createOpenAIEmbedder({ model: 'text-embedding-3-small' })).toThrow(expect.objectContaining({ code: 'missing-credentials' }));
    } finally {
      if (previous !== undefined) process.env.OPENAI_API_KEY = previous;
    }
  });

  it('maps errors: 401 to model-authentication, a wrong vector size to model-malformed-response, an unknown model size to invalid-config', async () => {
    mode = 'unauthorized';
    const embedder = createOpenAIEmbedder({ model: 'nomic-embed-text', dimensions: 4, apiKey: 'bad', baseURL, maxRetries: 0 });
    await expectKeelError(embedder.embed(['x']), 'model-authentication');
    mode = 'wrong-size';
    await expectKeelError(embedder.embed(['x']), 'model-malformed-response');
    mode = 'ok';
    expect(() => createOpenAIEmbedder({ model: 'mystery-model', baseURL })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});
