// AI SDK generateText with the @ai-sdk/openai provider, on Chat Completions through .chat().
import { createOpenAI } from '@ai-sdk/openai';
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'ai-sdk(@ai-sdk/openai chat)';
let model;
export const runSession = makeRunSession((baseURL) => (model ??= createOpenAI({ baseURL, apiKey: 'sk-mock' }).chat('mock-model')));
