// AI SDK streamText (server-sent events) with the openai-compatible provider.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'ai-sdk-stream(openai-compatible)';
let model;
export const runSession = makeRunSession((baseURL) => (model ??= createOpenAICompatible({ name: 'mock', baseURL, apiKey: 'sk-mock', includeUsage: true }).chatModel('mock-model')), { stream: true });
