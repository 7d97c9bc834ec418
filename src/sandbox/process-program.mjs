// The program a sandboxed Node process runs (process and bubblewrap runners). It is plain JavaScript because the
// child is a bare `node` under the permission model, with no TypeScript loader and read access to this file alone.
// The parent sends one job over IPC; this program runs it and sends back one message, then the parent kills it.
// Everything here runs beside the untrusted code and can be overwritten by it: the parent trusts none of it beyond
// "this is what the job says it returned".
const AsyncFunction = (async () => {}).constructor;

function describeError(error) {
  if (error instanceof Error) {
    const record = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (error));
    return {
      name: error.name,
      message: error.message,
      code: typeof record.code === 'string' ? record.code : undefined,
      permission: typeof record.permission === 'string' ? record.permission : undefined,
      resource: typeof record.resource === 'string' ? record.resource : undefined,
    };
  }
  return { name: 'Thrown value', message: String(error) };
}

function usage() {
  const cpu = process.cpuUsage();
  return { cpuMs: (cpu.user + cpu.system) / 1000, peakMemoryMb: process.resourceUsage().maxRSS / 1024 };
}

let reported = false;
function report(message) {
  if (reported) return;
  reported = true;
  process.send?.({ ...message, ...usage() });
}

// Errors thrown later from callbacks (a socket's error event, a timer) end the job like a thrown error would.
process.on('uncaughtException', (error) => report({ type: 'error', error: describeError(error) }));
process.on('unhandledRejection', (error) => report({ type: 'error', error: describeError(error) }));

process.once('message', async (job) => {
  let value;
  try {
    const body = new AsyncFunction('input', job.code);
    value = await body(job.input);
  } catch (error) {
    report({ type: 'error', error: describeError(error) });
    return;
  }
  let json;
  try {
    json = JSON.stringify(value) ?? 'null';
  } catch (error) {
    report({ type: 'not-serialisable', error: describeError(error) });
    return;
  }
  report({ type: 'result', json });
});
