// `npm run demo`: incident investigation, end to end, offline unless an API key is set.
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { createKeel } from '../../src/runtime/index.ts';
import { renderTraceTree } from '../../src/tracing/index.ts';
import { createProgressPrinter } from '../../src/cli/progress-printer.ts';
import agent from './agent.ts';

const scriptedModel = fileURLToPath(new URL('./model.json', import.meta.url));
const live = process.env.KEEL_MODEL ?? (process.env.ANTHROPIC_API_KEY ? 'anthropic:claude-sonnet-4-6' : process.env.OPENAI_API_KEY ? 'openai:gpt-4o' : undefined);
const model = live ?? `scripted:${relative(process.cwd(), scriptedModel)}`;

if (live === undefined) {
  console.log('No ANTHROPIC_API_KEY or OPENAI_API_KEY set: running offline on the scripted model');
  console.log(`${relative(process.cwd(), scriptedModel)} (recorded model replies; the tools, database and journal are real).\n`);
} else {
  console.log(`Running live on ${model}.\n`);
}

const keel = createKeel();
try {
  const session = keel.run(agent, { model, agentModule: fileURLToPath(new URL('./agent.ts', import.meta.url)) });
  const print = createProgressPrinter((line) => console.log(line));
  for await (const update of session) print(update);
  const result = await session.result;
  if (result.output !== null) console.log(`\nFinal answer:\n${result.output}\n`);
  console.log(renderTraceTree(await keel.trace(result.sessionId)));
  console.log(`\nJournal: ${keel.databasePath}`);
  console.log(`Inspect it again with: npm run keel -- trace ${result.sessionId}   (or --json)`);
  process.exitCode = result.status === 'completed' ? 0 : 1;
} finally {
  await keel.close();
}
