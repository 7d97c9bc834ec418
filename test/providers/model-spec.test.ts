import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createModelFromSpec, defaultModelSpec, parseModelSpec } from '../../src/model/index.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';
import { simpleRequest } from './helpers.ts';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function thrownBy(action: () => unknown): KeelError {
  try {
    action();
  } catch (error) {
    if (error instanceof KeelError) return error;
    throw error;
  }
  throw new Error('expected a KeelError');
}

describe('parseModelSpec', () => {
  it('reads every provider form', () => {
    expect(parseModelSpec('anthropic:claude-sonnet-4-5')).toEqual({ provider: 'anthropic', modelId: 'claude-sonnet-4-5' });
    expect(parseModelSpec('openai:gpt-4o')).toEqual({ provider: 'openai', modelId: 'gpt-4o' });
    expect(parseModelSpec('openai-compatible:llama3.1:8b@http://localhost:11434/v1')).toEqual({ provider: 'openai-compatible', modelId: 'llama3.1:8b', baseURL: 'http://localhost:11434/v1' });
    expect(parseModelSpec('openai-compatible:org/model@https://user:pw@vllm.internal/v1')).toEqual({ provider: 'openai-compatible', modelId: 'org/model', baseURL: 'https://user:pw@vllm.internal/v1' });
    expect(parseModelSpec('scripted:fixtures/run.json')).toEqual({ provider: 'scripted', filePath: 'fixtures/run.json' });
  });

  it.each([
    ['claude-sonnet-4-5', /no provider prefix/],
    ['anthropic:', /nothing follows/],
    ['gemini:pro', /unknown provider 'gemini'/],
    ['openai-compatible:llama3.1', /needs its server/],
  ])('rejects %s as invalid-config naming --model', (spec, reason) => {
    const error = thrownBy(() => parseModelSpec(spec));
    expect(error.code).toBe('invalid-config');
    expect(error.message).toMatch(reason);
    expect(error.message).toContain('--model');
  });
});

describe('createModelFromSpec', () => {
  it('builds an Anthropic model with the key and base URL from the given environment', async () => {
    server = await startMockAnthropicServer({ script: [{ content: [{ type: 'text', text: 'hi' }] }] });
    const model = createModelFromSpec('anthropic:claude-haiku-4-5', { env: { ANTHROPIC_API_KEY: 'sk-ant-from-env', ANTHROPIC_BASE_URL: server.baseURL }, cwd: '/' });
    expect([model.provider, model.modelId]).toEqual(['anthropic', 'claude-haiku-4-5']);
    await model.generate(simpleRequest, new AbortController().signal);
    const headers = server.requests[0]!.headers;
    expect(headers.authorization ?? headers['x-api-key']).toContain('sk-ant-from-env');
  });

  it('builds an OpenAI model from OPENAI_API_KEY and OPENAI_BASE_URL', async () => {
    server = await startMockOpenAIServer({ script: [{ content: 'hi' }] });
    const model = createModelFromSpec('openai:gpt-4o-mini', { env: { OPENAI_API_KEY: 'sk-from-env', OPENAI_BASE_URL: server.baseURL }, cwd: '/' });
    await model.generate(simpleRequest, new AbortController().signal);
    expect(server.requests[0]!.headers.authorization).toBe('Bearer sk-from-env');
    expect((server.requests[0]!.body as { model: string }).model).toBe('gpt-4o-mini');
  });

  it('needs no key for an OpenAI-compatible server, and uses OPENAI_API_KEY when set', async () => {
    server = await startMockOpenAIServer({ script: [{ content: 'a' }, { content: 'b' }] });
    const keyless = createModelFromSpec(`openai-compatible:llama3.1@${server.baseURL}`, { env: {}, cwd: '/' });
    expect(keyless.provider).toBe('openai-compatible');
    await keyless.generate(simpleRequest, new AbortController().signal);
    const keyed = createModelFromSpec(`openai-compatible:llama3.1@${server.baseURL}`, { env: { OPENAI_API_KEY: 'sk-proxy' }, cwd: '/' });
    await keyed.generate(simpleRequest, new AbortController().signal);
    expect(server.requests.map((request) => request.headers.authorization)).toEqual(['Bearer not-needed', 'Bearer sk-proxy']);
    expect((server.requests[0]!.body as { max_tokens: number }).max_tokens).toBe(256);
  });

  it.each([
    ['anthropic:claude-sonnet-4-6', 'ANTHROPIC_API_KEY'],
    ['openai:gpt-4o', 'OPENAI_API_KEY'],
  ])('fails %s without its key, naming %s and --model', (spec, variable) => {
    const error = thrownBy(() => createModelFromSpec(spec, { env: { [variable]: '  ' }, cwd: '/' }));
    expect(error.code).toBe('missing-credentials');
    expect(error.message).toContain(variable);
    expect(error.message).toContain('--model');
  });

  it('sends through the direct client by default, and through the SDK with KEEL_MODEL_CLIENT=sdk or the client option', async () => {
    server = await startMockOpenAIServer({ script: () => ({ content: 'hi' }) });
    const env = { OPENAI_API_KEY: 'sk', OPENAI_BASE_URL: server.baseURL };
    for (const options of [{ env }, { env: { ...env, KEEL_MODEL_CLIENT: 'sdk' } }, { env: { ...env, KEEL_MODEL_CLIENT: 'sdk' }, client: 'direct' as const }]) {
      await createModelFromSpec('openai:gpt-4o', { ...options, cwd: '/' }).generate(simpleRequest, new AbortController().signal);
    }
    expect(server.requests.map((request) => request.headers['user-agent']?.split(/[ /]/)[0])).toEqual(['keel', 'OpenAI', 'keel']);
    const error = thrownBy(() => createModelFromSpec('openai:gpt-4o', { env: { ...env, KEEL_MODEL_CLIENT: 'undici' }, cwd: '/' }));
    expect([error.code, error.message]).toEqual(['invalid-config', expect.stringMatching(/KEEL_MODEL_CLIENT is 'undici'.*'direct'.*'sdk'/)]);
  });

  it('loads a scripted model relative to cwd', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-spec-'));
    writeFileSync(join(directory, 'script.json'), JSON.stringify([{ role: 'assistant', content: [{ type: 'text', text: 'scripted hello' }], model: 'claude-sonnet-4-5' }]));
    const model = createModelFromSpec('scripted:script.json', { env: {}, cwd: directory });
    const response = await model.generate(simpleRequest, new AbortController().signal);
    expect(response.content).toEqual([{ type: 'text', text: 'scripted hello' }]);
    expect(response.model).toBe('claude-sonnet-4-5');
    expect(thrownBy(() => createModelFromSpec('scripted:absent.json', { env: {}, cwd: directory })).message).toContain(join(directory, 'absent.json'));
    rmSync(directory, { recursive: true, force: true });
  });
});

describe('defaultModelSpec', () => {
  it('prefers Anthropic, then OpenAI', () => {
    expect(defaultModelSpec({ ANTHROPIC_API_KEY: 'a', OPENAI_API_KEY: 'o' })).toBe('anthropic:claude-sonnet-4-6');
    expect(defaultModelSpec({ OPENAI_API_KEY: 'o' })).toBe('openai:gpt-4o');
  });

  it('without keys, names both variables, --model and scripted:', () => {
    const error = thrownBy(() => defaultModelSpec({ ANTHROPIC_API_KEY: '' }));
    expect(error.code).toBe('missing-credentials');
    for (const needle of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', '--model', 'scripted:']) expect(error.message).toContain(needle);
  });
});
