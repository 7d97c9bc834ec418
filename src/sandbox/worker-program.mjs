// The program a sandbox worker thread runs (worker runner). Plain JavaScript so that the worker starts without a
// TypeScript loader. It has its own V8 heap, capped by the runner's resourceLimits, but shares the host process:
// its file system, network and native memory are the host's.
import { parentPort, workerData } from 'node:worker_threads';

const AsyncFunction = (async () => {}).constructor;
const port = parentPort;

function describeError(error) {
  if (error instanceof Error) {
    const code = /** @type {{ code?: unknown }} */ (error).code;
    return { name: error.name, message: error.message, code: typeof code === 'string' ? code : undefined };
  }
  return { name: 'Thrown value', message: String(error) };
}

let outcome;
try {
  const body = new AsyncFunction('input', workerData.code);
  const value = await body(workerData.input);
  try {
    outcome = { type: 'result', json: JSON.stringify(value) ?? 'null' };
  } catch (error) {
    outcome = { type: 'not-serialisable', error: describeError(error) };
  }
} catch (error) {
  outcome = { type: 'error', error: describeError(error) };
}
port?.postMessage(outcome);
// Timers or sockets the job left behind must not keep the thread alive; exiting also flushes its stdout.
process.exit(0);
