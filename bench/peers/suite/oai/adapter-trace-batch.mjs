// OpenAI Agents SDK with tracing on through its BatchTraceProcessor, exporting to a local exporter that serialises
// every item as the SDK's OpenAI exporter does (toJSON, then JSON text), without the network.
import { BatchTraceProcessor, setTraceProcessors, setTracingDisabled } from '@openai/agents';
export { runSession, versions } from './common.mjs';

export const name = 'openai-agents+trace-batch';
let exportedBytes = 0;
const processor = new BatchTraceProcessor({
  async export(items) {
    exportedBytes += JSON.stringify({ data: items.map((item) => item.toJSON()).filter(Boolean) }).length;
  },
});
setTraceProcessors([processor]);
setTracingDisabled(false);

export async function teardown() {
  await processor.forceFlush();
  if (exportedBytes === 0) throw new Error('tracing was on but nothing was exported');
}
