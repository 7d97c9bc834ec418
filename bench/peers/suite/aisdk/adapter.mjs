// AI SDK generateText with the openai-compatible provider (Chat Completions).
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'ai-sdk(openai-compatible)';
let model;
export const runSession = makeRunSession((baseURL) => (model ??= createOpenAICompatible({ name: 'mock', baseURL, apiKey: 'sk-mock' }).chatModel('mock-model')));
