import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKeel } from '../../src/runtime/index.ts';
import { createModelFromSpec } from '../../src/model/index.ts';
import type { Model, ModelRequest } from '../../src/spec/model.ts';
import { serveRestate } from '../../src/restate/index.ts';
import { createBiller } from './restate-agents.ts';

/*
 * The service process of the crash test: the biller served as a Restate endpoint. Its model is scripted and logs
 * every call it receives to model-calls.log in the effects directory, outside this process.
 * Arguments: <database> <port> <effects directory>.
 */
const [database, port, effects] = process.argv.slice(2);
if (database === undefined || port === undefined || effects === undefined) throw new Error('usage: crash-service.ts <database> <port> <effects>');

function counted(model: Model): Model {
  const log = (request: ModelRequest): void => appendFileSync(join(effects ?? '', 'model-calls.log'), `response ${request.messages.filter((message) => message.role === 'assistant').length + 1}\n`);
  return {
    provider: model.provider,
    modelId: model.modelId,
    generate: (request, signal) => {
      log(request);
      return model.generate(request, signal);
    },
    stream: (request, signal) => {
      log(request);
      return model.stream(request, signal);
    },
  };
}

const script = fileURLToPath(new URL('./biller-script.json', import.meta.url));
const keel = createKeel({ database, models: { 'biller-script': counted(createModelFromSpec(`scripted:${script}`, { env: {}, cwd: process.cwd() })) }, modelLimits: false });
const server = await serveRestate({ agents: [createBiller(effects)], keel, port: Number(port), serviceName: 'KeelCrashSession' });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => keel.close());
});
