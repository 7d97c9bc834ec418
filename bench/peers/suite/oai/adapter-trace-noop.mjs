// OpenAI Agents SDK with tracing on and a processor that does nothing: the cost of making traces and spans.
import { setTraceProcessors, setTracingDisabled } from '@openai/agents';
export { runSession, versions } from './common.mjs';

export const name = 'openai-agents+trace-noop';
const nothing = async () => {};
setTraceProcessors([{ onTraceStart: nothing, onTraceEnd: nothing, onSpanStart: nothing, onSpanEnd: nothing, shutdown: nothing, forceFlush: nothing }]);
setTracingDisabled(false);
