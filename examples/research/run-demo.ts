// `npx tsx examples/research/run-demo.ts ["your question"]`: an orchestrator splits a question into three
// sub-questions, gives each to a researcher subagent (its own child session, clean context, a slice of the budget),
// and synthesizes an answer citing the passages they retrieved. Offline (no API key) the agents play recorded replies; live
// (ANTHROPIC_API_KEY or OPENAI_API_KEY, or KEEL_MODEL) a real model does the work.
import { createKeel, renderTraceTree } from '../../src/index.ts';
import { createResearchAgents } from './agents.ts';
import { citedSourceIds } from './citations.ts';
import { createRecordedResearchModels, question as recordedQuestion } from './recorded-model.ts';

const live = process.env.KEEL_MODEL ?? (process.env.ANTHROPIC_API_KEY ? 'anthropic:claude-sonnet-4-6' : process.env.OPENAI_API_KEY ? 'openai:gpt-4o' : undefined);
const question = live === undefined ? recordedQuestion : (process.argv[2] ?? recordedQuestion);
const recorded = live === undefined ? createRecordedResearchModels() : null;
const keel = createKeel(recorded === null ? {} : { models: { 'recorded-lead': recorded.lead, 'recorded-researcher': recorded.researcher } });
const { lead } = createResearchAgents(live === undefined ? { lead: 'recorded-lead', researcher: 'recorded-researcher' } : { lead: live, researcher: live });
console.log(live === undefined ? 'Offline: recorded model replies (the tools, child sessions, budgets and journal are real).\n' : `Live on ${live}.\n`);

try {
  const result = await keel.run(lead, { task: question, budget: { tokens: 150_000, timeMs: 300_000 } }).result;
  const events = await keel.events(result.sessionId);
  const results = events.flatMap((event) => (event.type === 'child-end' ? [{ childSessionId: event.childSessionId, output: event.output, status: event.status }] : []));
  console.log(`Question: ${question}\n`);
  console.log(`Answer:\n${result.output ?? `(none: ${result.error?.message ?? result.status})`}\n`);
  results.forEach((each, index) => console.log(`[R${index + 1}] session ${each.childSessionId} (${each.status}): ${each.output ?? ''}`));
  // Every passage the answer cites must come from a researcher's result (the eval suite checks the searches themselves).
  const unknown = citedSourceIds(result.output ?? '').filter((id) => !results.some((each) => (each.output ?? '').includes(`[${id}]`)));
  if (unknown.length > 0) console.log(`\nCitations no researcher gave: ${unknown.join(', ')}`);
  console.log(`\n${renderTraceTree(await keel.trace(result.sessionId))}`);
  console.log(`\nThe tree: npm run keel -- sessions --tree${keel.databasePath === null ? '' : ` --db ${keel.databasePath}`}`);
  process.exitCode = result.status === 'completed' && unknown.length === 0 ? 0 : 1;
} finally {
  await keel.close();
}
