export { startMockAnthropicServer } from './mock-anthropic-server.ts';
export type { AnthropicMockBlock, AnthropicMockCount, AnthropicMockCountReply, AnthropicMockReply, AnthropicMockResponse, AnthropicMockUsage, MockAnthropicServerOptions } from './mock-anthropic-server.ts';
export { startMockOpenAIServer } from './mock-openai-server.ts';
export type { MockOpenAIServerOptions, OpenAIMockReply, OpenAIMockResponse, OpenAIMockToolCall, OpenAIMockUsage } from './mock-openai-server.ts';
export type { MockFault, MockFaultName } from './mock-faults.ts';
export type { MockScript, MockServer, RecordedRequest } from './mock-http-server.ts';
export { FakeClock } from './fake-clock.ts';
export { createScriptedModel, loadScriptedModel } from '../model/index.ts';
export type { ScriptedModelOptions } from '../model/index.ts';
