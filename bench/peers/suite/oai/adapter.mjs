// OpenAI Agents SDK with tracing off.
import { setTracingDisabled } from '@openai/agents';
export { runSession, versions } from './common.mjs';

export const name = 'openai-agents';
setTracingDisabled(true);
