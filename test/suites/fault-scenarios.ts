// One scenario per fault of the list. Each run drives a real session (createKeel, the real provider classes
// on the mock servers, the real SQLite store) through the fault and returns what happened, checked by inspectSession.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { toKeelError } from '../../src/errors/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { createSqliteStore } from '../../src/store/index.ts';
import type { MockFault } from '../../src/testing/index.ts';
import { createProcessRunner, createWorkerRunner } from '../../src/sandbox/index.ts';
import type { SandboxLimits, SandboxRunner } from '../../src/sandbox/index.ts';
import { defineJavaScriptTool } from '../../src/tools/code-tools.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { ToolDefinition } from '../../src/tools/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { createBiller, openFarEnd, readFarEnd } from './far-end.ts';
import { adaThenBob, appendsOfAdaThenBob, cuttingFetch, EmittedEvents, endOf, fillingJournal, inspectSession, startProvider, toolArgumentsMarker, toolErrorCodes } from './fault-kit.ts';
import type { Provider, ProviderSetup, Reply, ScriptEntry } from './fault-kit.ts';
import type { FaultRunContext, FaultRunRecord, FaultScenario } from './fault-suite-runner.ts';

const task = 'Charge ada and bob.';
const chargeAda: Reply = { kind: 'charge', customers: ['ada'], text: 'Charging ada first.' };
const chargeBob: Reply = { kind: 'charge', customers: ['bob'] };
const done: Reply = { kind: 'final', text: 'Charged ada and bob.' };

interface ProviderRunSpec {
  readonly script: readonly ScriptEntry[];
  readonly charged: readonly string[];
  readonly modelRetries?: number;
  readonly timeoutMs?: number;
  readonly cut?: { readonly request: number; readonly mode: 'eof' | 'error' };
  readonly streaming?: boolean;
  /** The retried turn's latency must be at least this (a retry-after honoured). */
  readonly minRetryLatencyMs?: number;
}

/** One session through a provider fault: a charge, the fault on the next model call, a second charge, the answer. */
async function providerRun(provider: Provider, spec: ProviderRunSpec, context: FaultRunContext): Promise<FaultRunRecord> {
  const farEndDirectory = join(context.scratch, 'far-end');
  const agent = createBiller(openFarEnd(farEndDirectory), { streaming: spec.streaming ?? true });
  const cut = spec.cut === undefined ? undefined : cuttingFetch(spec.cut.request, toolArgumentsMarker[provider], spec.cut.mode);
  const setup = await startProvider(provider, spec.script, {
    ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
    ...(cut === undefined ? {} : { fetch: cut.fetch }),
  });
  const keel = createKeel({ database: ':memory:', model: setup.model, modelRetries: spec.modelRetries ?? 4 });
  const emitted = new EmittedEvents();
  try {
    const result = await keel.run(agent, { task: task, onUpdate: emitted.onUpdate }).result;
    const inspection = await inspectSession(keel, result.sessionId, emitted, { charged: spec.charged, farEndDirectory });
    const problems = [...inspection.problems];
    const end = endOf(inspection.events);
    const failureCodes = [...new Set(setup.failures.map((failure) => failure.code))];
    if (cut !== undefined && cut.cuts() !== 1) problems.push(`the stream was cut ${cut.cuts()} times, expected once.`);
    const halfCalls = readFarEnd(farEndDirectory).attempts;
    for (const [key, attempts] of halfCalls) if (attempts > 1) problems.push(`key ${key} executed ${attempts} times in one uninterrupted session.`);
    if (end.status === 'completed') {
      if (inspection.retries !== setup.failures.length) problems.push(`${setup.failures.length} failed attempts but ${inspection.retries} retries journaled.`);
      if (spec.minRetryLatencyMs !== undefined) {
        const slowest = Math.max(...inspection.events.flatMap((event) => (event.type === 'model-response' && event.retries > 0 ? [event.latencyMs] : [0])));
        if (slowest < spec.minRetryLatencyMs) problems.push(`the retried call took ${slowest} ms, less than the ${spec.minRetryLatencyMs} ms the provider asked to wait.`);
      }
      const toolCodes = toolErrorCodes(inspection.events);
      if (toolCodes.length > 0) return { path: 'tool error to the model → completed', code: toolCodes.join(','), retries: inspection.retries, lostEvents: inspection.lostEvents, duplicatedEffects: inspection.duplicatedEffects, problems };
      return { path: failureCodes.length > 0 ? 'retried → completed' : 'completed', code: failureCodes.join(',') || null, retries: inspection.retries, lostEvents: inspection.lostEvents, duplicatedEffects: inspection.duplicatedEffects, problems };
    }
    const modelError = inspection.events.find((event) => event.type === 'model-error');
    if (modelError?.type === 'model-error' && modelError.retries !== (spec.modelRetries ?? 4)) problems.push(`gave up after ${modelError.retries} retries, expected ${spec.modelRetries ?? 4}.`);
    return { path: `${end.status} after ${inspection.retries} retries`, code: end.code, retries: inspection.retries, lostEvents: inspection.lostEvents, duplicatedEffects: inspection.duplicatedEffects, problems };
  } finally {
    await keel.close();
    await setup.server.close();
  }
}

interface ProviderFault {
  readonly id: string;
  readonly fault: string;
  readonly expectedPath: string;
  readonly expectedCode: Readonly<Record<Provider, string | null>>;
  readonly spec: (provider: Provider) => ProviderRunSpec;
}

const retriedScript = (fault: MockFault<never>): ScriptEntry[] => [chargeAda, fault, chargeBob, done];

const providerFaults: readonly ProviderFault[] = [
  {
    id: '429-retry-after-ms',
    fault: '429 with retry-after-ms: 40',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-rate-limited', openai: 'model-rate-limited' },
    spec: () => ({ script: retriedScript({ fault: 'rate-limit', retryAfterMs: 40 }), charged: ['ada', 'bob'], minRetryLatencyMs: 40 }),
  },
  {
    id: '429-retry-after-s',
    fault: '429 with retry-after: 1 (seconds)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-rate-limited', openai: 'model-rate-limited' },
    spec: () => ({ script: retriedScript({ fault: 'rate-limit', retryAfterSeconds: 1 }), charged: ['ada', 'bob'], minRetryLatencyMs: 1000 }),
  },
  {
    id: '429-no-retry-after',
    fault: '429 without retry-after (backoff)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-rate-limited', openai: 'model-rate-limited' },
    spec: () => ({ script: retriedScript({ fault: 'rate-limit' }), charged: ['ada', 'bob'] }),
  },
  {
    id: '529-overloaded',
    fault: '529 overloaded (OpenAI: 503)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-overloaded', openai: 'model-server-error' },
    spec: () => ({ script: retriedScript({ fault: 'overloaded' }), charged: ['ada', 'bob'] }),
  },
  {
    id: '500-server-error',
    fault: '500 server error',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-server-error', openai: 'model-server-error' },
    spec: () => ({ script: retriedScript({ fault: 'server-error' }), charged: ['ada', 'bob'] }),
  },
  {
    id: '500-persistent',
    fault: '500 on every attempt (modelRetries 2)',
    expectedPath: 'failed after 2 retries',
    expectedCode: { anthropic: 'model-server-error', openai: 'model-server-error' },
    spec: () => ({ script: [chargeAda, { fault: 'server-error' }, { fault: 'server-error' }, { fault: 'server-error' }], charged: ['ada'], modelRetries: 2 }),
  },
  {
    id: 'reset-mid-stream',
    fault: 'connection reset mid-stream',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-stream-cut', openai: 'model-stream-cut' },
    spec: () => ({ script: retriedScript({ fault: 'reset' }), charged: ['ada', 'bob'] }),
  },
  {
    id: 'reset-before-response',
    fault: 'connection reset before the response (not streaming)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-connection', openai: 'model-connection' },
    spec: () => ({ script: retriedScript({ fault: 'reset' }), charged: ['ada', 'bob'], streaming: false }),
  },
  {
    id: 'cut-mid-tool-call-eof',
    fault: 'stream cut mid-tool-call (clean end of body)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-stream-cut', openai: 'model-stream-cut' },
    spec: () => ({ script: [chargeAda, chargeBob, chargeBob, done], charged: ['ada', 'bob'], cut: { request: 2, mode: 'eof' } }),
  },
  {
    id: 'cut-mid-tool-call-error',
    fault: 'stream cut mid-tool-call (socket error)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-stream-cut', openai: 'model-stream-cut' },
    spec: () => ({ script: [chargeAda, chargeBob, chargeBob, done], charged: ['ada', 'bob'], cut: { request: 2, mode: 'error' } }),
  },
  {
    id: 'malformed-tool-json',
    fault: 'malformed tool-call JSON',
    expectedPath: 'tool error to the model → completed',
    expectedCode: { anthropic: 'tool-invalid-input', openai: 'tool-invalid-input' },
    spec: () => ({ script: [chargeAda, { fault: 'malformed-tool-json', name: 'charge', arguments: '{"customer": "bo' }, chargeBob, done], charged: ['ada', 'bob'] }),
  },
  {
    id: 'hanging-first-byte',
    fault: 'hanging first byte (model timeoutMs 250)',
    expectedPath: 'retried → completed',
    expectedCode: { anthropic: 'model-timeout', openai: 'model-timeout' },
    spec: () => ({ script: retriedScript({ fault: 'slow-first-byte', delayMs: 30_000 }), charged: ['ada', 'bob'], timeoutMs: 250 }),
  },
];

function providerScenarios(): FaultScenario[] {
  return providerFaults.flatMap((fault) =>
    (['anthropic', 'openai'] as const).map((provider) => ({
      id: `${fault.id}-${provider}`,
      fault: `${fault.fault} — ${provider === 'anthropic' ? 'Anthropic' : 'OpenAI'}`,
      expectedPath: fault.expectedPath,
      expectedCode: fault.expectedCode[provider],
      concurrent: true,
      run: (context: FaultRunContext) => providerRun(provider, fault.spec(provider), context),
    })),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Tools

interface ToolRunSpec {
  readonly tool: ToolDefinition;
  readonly input: Record<string, unknown>;
  /** Extra checks on the finished session. */
  readonly check?: (keel: Keel, sessionId: string, databasePath: string) => Promise<{ problems: string[]; note?: string }>;
}

/** A turn with a good charge and the faulty tool side by side, then the answer; on a SQLite file. */
async function toolRun(spec: ToolRunSpec, context: FaultRunContext): Promise<FaultRunRecord> {
  const farEndDirectory = join(context.scratch, 'far-end');
  const agent = createBiller(openFarEnd(farEndDirectory), { extraTools: [spec.tool] });
  const setup = await startProvider('anthropic', [{ kind: 'charge', customers: ['ada'], extra: [{ name: spec.tool.name, input: spec.input }] }, { kind: 'final', text: 'Done, with one tool failing.' }]);
  const databasePath = join(context.scratch, 'keel.db');
  const keel = createKeel({ database: databasePath, model: setup.model, modelRetries: 2 });
  const emitted = new EmittedEvents();
  try {
    const result = await keel.run(agent, { task: task, onUpdate: emitted.onUpdate }).result;
    const inspection = await inspectSession(keel, result.sessionId, emitted, { charged: ['ada'], farEndDirectory });
    const checked = (await spec.check?.(keel, result.sessionId, databasePath)) ?? { problems: [] };
    const problems = [...inspection.problems, ...checked.problems];
    const end = endOf(inspection.events);
    const codes = toolErrorCodes(inspection.events);
    const path = end.status !== 'completed' ? `${end.status}` : codes.length > 0 ? 'tool error to the model → completed' : 'completed';
    return { path, code: codes.join(',') || end.code, retries: inspection.retries, lostEvents: inspection.lostEvents, duplicatedEffects: inspection.duplicatedEffects, problems, ...(checked.note === undefined ? {} : { note: checked.note }) };
  } finally {
    await keel.close();
    await setup.server.close();
  }
}

const fiftyMegabytes = 50 * 1024 * 1024;

function toolScenarios(): FaultScenario[] {
  const throwing = defineTool({
    name: 'flaky',
    description: 'Fails.',
    input: z.object({ id: z.string() }),
    risk: 'read',
    execute: () => {
      throw new Error('the card processor exploded');
    },
  });
  const hanging = defineTool({
    name: 'stuck',
    description: 'Never answers and ignores its signal.',
    input: z.object({ id: z.string() }),
    risk: 'read',
    timeoutMs: 200,
    execute: () => new Promise(() => undefined),
  });
  const huge = defineTool({
    name: 'export_report',
    description: 'Returns a very large report.',
    input: z.object({ id: z.string() }),
    risk: 'read',
    execute: () => 'row,'.repeat(fiftyMegabytes / 4),
  });
  return [
    {
      id: 'tool-throws',
      fault: 'tool throwing',
      expectedPath: 'tool error to the model → completed',
      expectedCode: 'tool-failed',
      concurrent: false,
      run: (context) => toolRun({ tool: throwing, input: { id: 'x' } }, context),
    },
    {
      id: 'tool-timeout',
      fault: 'tool hanging past its timeoutMs (200 ms), ignoring its signal',
      expectedPath: 'tool error to the model → completed',
      expectedCode: 'tool-timeout',
      concurrent: false,
      run: (context) => toolRun({ tool: hanging, input: { id: 'x' } }, context),
    },
    {
      id: 'tool-50mb',
      fault: 'tool returning 50 MB',
      expectedPath: 'completed',
      expectedCode: null,
      concurrent: false,
      run: (context) =>
        toolRun(
          {
            tool: huge,
            input: { id: 'x' },
            check: async (keel, sessionId, databasePath) => {
              const problems: string[] = [];
              const events = await keel.events(sessionId);
              const result = events.find((event) => event.type === 'tool-result' && event.tool === 'export_report');
              if (result?.type !== 'tool-result') return { problems: ['no tool-result for export_report.'] };
              const eventBytes = Buffer.byteLength(JSON.stringify(result));
              if (eventBytes > 100 * 1024) problems.push(`the tool-result event is ${eventBytes} bytes; the journal keeps long output as a blob.`);
              if (result.outputBlob === undefined) problems.push('the cut output names no blob.');
              else {
                const blob = await keel.blobs.get(result.outputBlob);
                // Only the first MiB is redacted and kept: redaction runs on the event loop, so its input is bounded.
                const marker = `[output cut at 1048576 characters before redaction: ${fiftyMegabytes - 1_048_576} more characters`;
                if (blob === undefined || blob.length > 1_048_576 + 1024 || !blob.includes(marker)) problems.push(`the blob holds ${blob?.length ?? 'nothing'} characters without the cut marker; expected the first MiB and a marker naming the ${fiftyMegabytes - 1_048_576} dropped.`);
              }
              const database = new Database(databasePath, { readonly: true });
              let bytes = 0;
              try {
                bytes = database.prepare<[string], number>('SELECT coalesce(sum(length(body)), 0) FROM events WHERE session_id = ?').pluck().get(sessionId) ?? 0;
                if (bytes > 512 * 1024) problems.push(`the session's journal rows hold ${bytes} bytes; expected well under 512 KB.`);
              } finally {
                database.close();
              }
              return { problems, note: `tool-result event ${Math.round(eventBytes / 1024)} KB (output cut; its first MiB, redacted, kept as a blob); all journal rows of the session ${Math.round(bytes / 1024)} KB` };
            },
          },
          context,
        ),
    },
  ];
}

/** Model-written JavaScript in a real sandbox runner (src/sandbox) whose job dies: the host must carry on. */
function sandboxScenarios(): FaultScenario[] {
  const crashes: { id: string; fault: string; runner: SandboxRunner; code: string; limits: SandboxLimits; expectedCode: string }[] = [
    {
      id: 'sandbox-crash-worker',
      fault: 'sandbox crash: worker-thread job calls process.exit(7)',
      runner: createWorkerRunner(),
      code: 'process.exit(7);',
      limits: { timeoutMs: 5_000 },
      expectedCode: 'sandbox-crashed',
    },
    {
      id: 'sandbox-oom-worker',
      fault: 'sandbox crash: worker-thread job runs out of memory (heap bomb, memoryMb 32)',
      runner: createWorkerRunner(),
      code: 'const keep = []; for (;;) keep.push(new Array(100000).fill(1));',
      limits: { timeoutMs: 10_000, memoryMb: 32 },
      expectedCode: 'sandbox-limit',
    },
    {
      id: 'sandbox-crash-process',
      fault: 'sandbox crash: child-process job killed by SIGKILL',
      runner: createProcessRunner(),
      code: "process.kill(process.pid, 'SIGKILL');",
      limits: { timeoutMs: 5_000 },
      expectedCode: 'sandbox-crashed',
    },
  ];
  return crashes.map((crash) => ({
    id: crash.id,
    fault: crash.fault,
    expectedPath: 'tool error to the model → completed',
    expectedCode: crash.expectedCode,
    concurrent: false,
    run: async (context: FaultRunContext) => {
      if (!(await crash.runner.available())) throw new Error(`the ${crash.runner.name} sandbox runner is not available here`);
      const tool = defineJavaScriptTool({ name: 'run_js', description: 'Runs JavaScript.', limits: crash.limits, runner: crash.runner.name, runners: [crash.runner] });
      return toolRun({ tool, input: { code: crash.code } }, context);
    },
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// Storage

const storageScript = adaThenBob;

interface StorageSession {
  readonly keel: Keel;
  readonly agent: AgentDefinition;
  readonly setup: ProviderSetup;
  readonly emitted: EmittedEvents;
  readonly farEndDirectory: string;
}

/**
 * Runs a session into a storage fault, expects the run to reject with `storage-failure` (the journal cannot record
 * the failure, so it surfaces to the caller), checks that what reached the journal is whole, lifts the fault, and
 * resumes to completion.
 */
async function storageRun(
  context: FaultRunContext,
  open: (farEndDirectory: string) => Promise<StorageSession>,
  lift: () => void,
  expectRetryable: boolean,
  close: () => Promise<void>,
): Promise<FaultRunRecord> {
  const farEndDirectory = join(context.scratch, 'far-end');
  const session = await open(farEndDirectory);
  const { keel, agent, emitted } = session;
  const problems: string[] = [];
  try {
    const run = keel.run(agent, { task: task, onUpdate: emitted.onUpdate });
    let code: string | null = null;
    let action = 'no failure';
    try {
      const result = await run.result;
      problems.push(`the run did not reject: it ended ${result.status}.`);
    } catch (error) {
      const keelError = toKeelError(error);
      code = keelError.code;
      action = String(keelError.details.action ?? keelError.message).replace(/ ses_\w+| blob \w+/g, '');
      if (keelError.retryable !== expectRetryable) problems.push(`storage-failure retryable=${keelError.retryable}, expected ${expectRetryable}.`);
    }
    const partial = await inspectSession(keel, run.sessionId, emitted, { charged: [...new Set(readChargedSoFar(farEndDirectory, run.sessionId))], farEndDirectory }).catch(() => null);
    if (partial !== null) {
      for (const problem of partial.problems) problems.push(`before resume: ${problem}`);
      if (partial.events.at(-1)?.type === 'session-end') problems.push('the session ended although its journal could not be written.');
    }
    lift();
    const resumed = await (await keel.resume(agent, run.sessionId, { onUpdate: emitted.onUpdate })).result;
    const inspection = await inspectSession(keel, run.sessionId, emitted, { charged: ['ada', 'bob'], farEndDirectory });
    problems.push(...inspection.problems);
    const path = code === null ? 'completed without the fault' : resumed.status === 'completed' ? 'run rejected → resumed → completed' : `run rejected → resumed → ${resumed.status}`;
    const note = `struck while ${action}, after ${partial?.events.at(-1)?.type ?? 'nothing'}`;
    return { path, code, retries: inspection.retries, lostEvents: inspection.lostEvents + (partial?.lostEvents ?? 0), duplicatedEffects: inspection.duplicatedEffects, problems, note };
  } finally {
    await keel.close();
    await session.setup.server.close();
    await close();
  }
}

function readChargedSoFar(farEndDirectory: string, sessionId: string): string[] {
  return [...readFarEnd(farEndDirectory).applied.values()].filter((record) => record.sessionId === sessionId).map((record) => record.customer);
}

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The production composition, whose busy timeout cannot be lowered: another process takes the write lock right
 * after the first charge reached the far end and holds it 6.5 s, so the first write after the tool (the audit log
 * or the idempotency record) times out after 5 s and the next one gets through.
 */
async function defaultCompositionBusyRun(context: FaultRunContext): Promise<FaultRunRecord> {
  const path = join(context.scratch, 'keel.db');
  const farEndDirectory = join(context.scratch, 'far-end');
  const setup = await startProvider('anthropic', storageScript, { byTurn: true });
  const keel = createKeel({ database: path, model: setup.model, modelRetries: 2 });
  const locker = spawn(
    process.execPath,
    ['-e', `const D=require('better-sqlite3');const d=new D(${JSON.stringify(path)});process.stdin.once('data',()=>{d.exec('BEGIN IMMEDIATE');console.log('locked');setTimeout(()=>{d.exec('ROLLBACK');d.close();process.exit(0);},6500);});`],
    { cwd: repositoryRoot, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => locker.once('exit', () => resolve()));
  const locked = new Promise<void>((resolve) => createInterface({ input: locker.stdout }).once('line', () => resolve()));
  let asked = false;
  const agent = createBiller(openFarEnd(farEndDirectory), {
    afterApply: async () => {
      if (asked) return;
      asked = true;
      locker.stdin.write('go\n');
      await locked;
    },
  });
  const emitted = new EmittedEvents();
  try {
    const run = keel.run(agent, { task: task, onUpdate: emitted.onUpdate });
    let code: string | null = null;
    let rejected = false;
    try {
      await run.result;
    } catch (error) {
      rejected = true;
      code = toKeelError(error).code;
      await exited;
      await (await keel.resume(agent, run.sessionId, { onUpdate: emitted.onUpdate })).result;
    }
    const inspection = await inspectSession(keel, run.sessionId, emitted, { charged: ['ada', 'bob'], farEndDirectory });
    const end = endOf(inspection.events);
    const toolCodes = toolErrorCodes(inspection.events);
    const path =
      rejected ? `run rejected → resumed → ${end.status}` : toolCodes.length > 0 ? `tool error to the model → ${end.status}` : `${end.status} (the lock did not bite)`;
    return { path, code: code ?? (toolCodes.join(',') || null), retries: inspection.retries, lostEvents: inspection.lostEvents, duplicatedEffects: inspection.duplicatedEffects, problems: inspection.problems };
  } finally {
    if (locker.exitCode === null) locker.kill('SIGKILL');
    await exited;
    await keel.close();
    await setup.server.close();
  }
}

const childPath = fileURLToPath(new URL('./file-size-limited-child.ts', import.meta.url));
const bash = ['/usr/bin/bash', '/bin/bash'].find((candidate) => existsSync(candidate));

/**
 * A real size-limited disk for the default composition: the session runs in a child process whose files may not
 * grow past a random limit (RLIMIT_FSIZE via `ulimit -f`, with SIGXFSZ ignored, so SQLite's write fails with EFBIG).
 * Then, the space "freed", this process resumes it from the same file.
 */
async function fileSizeLimitedRun(context: FaultRunContext): Promise<FaultRunRecord> {
  if (bash === undefined) throw new Error('bash is needed to set the file size limit');
  const path = join(context.scratch, 'keel.db');
  const farEndDirectory = join(context.scratch, 'far-end');
  // The session needs about 300 KB of write-ahead log, its schema a fraction of that: limits from 100 to 250 KB
  // strike at every stage of the session. (Recalibrate when a change to src/ makes runs end 'completed under the limit'.)
  const limitKb = 100 + Math.floor(context.random() * 150);
  const command = `trap '' XFSZ; ulimit -f ${limitKb}; exec "$0" --import tsx "$1" "$2" "$3"`;
  const child = spawn(bash, ['-c', command, process.execPath, childPath, path, farEndDirectory], { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const emitted = new EmittedEvents();
  const reported: { seq: number; type: string }[] = [];
  let result: { sessionId: string | null; outcome: string; code?: string; retryable?: boolean; message?: string } | undefined;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('EVENT ')) {
      const [, seq, type] = line.split(' ');
      reported.push({ seq: Number(seq), type: type ?? '' });
    } else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice('RESULT '.length)) as typeof result;
  });
  const exitCode = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  if (result === undefined) throw new Error(`the limited child reported nothing (exit ${exitCode}): ${stderr}`);
  const problems: string[] = [];
  const where = result.message === undefined ? '' : ` while ${/while (.*?)(\.|:)/.exec(result.message)?.[1]?.replace(/ ses_\w+| blob \w+/g, '') ?? '?'}`;
  let note = `${result.outcome}${where}`;
  if (result.outcome === 'open failed' || result.sessionId === null) {
    return { path: 'failed at open, before any session', code: result.code ?? null, retries: 0, lostEvents: 0, duplicatedEffects: 0, problems, note };
  }
  const sessionId = result.sessionId;
  const setup = await startProvider('anthropic', storageScript, { byTurn: true });
  const keel = createKeel({ database: path, model: setup.model, modelRetries: 2 });
  try {
    const known = (await keel.sessions()).some((summary) => summary.sessionId === sessionId);
    let path = result.outcome === 'completed' ? 'completed under the limit' : 'run rejected';
    if (!known) {
      if (reported.length > 0) problems.push(`the child reported ${reported.length} events written, but the session is not in the database.`);
      return { path: `${path} before session-start was written`, code: result.code ?? null, retries: 0, lostEvents: reported.length, duplicatedEffects: 0, problems, note };
    }
    // The child's reports stand for its onUpdate; a resumed run adds its own.
    const before = await keel.events(sessionId);
    note = `${note}, after ${before.at(-1)?.type ?? 'nothing'}`;
    for (const report of reported) {
      const stored = before[report.seq - 1];
      if (stored?.type !== report.type) problems.push(`seq ${report.seq}: ${report.type} was reported written by the limited process, but the file has ${stored?.type ?? 'nothing'}.`);
      else emitted.events.push(stored);
    }
    if (result.outcome !== 'completed') {
      const resumed = await (await keel.resume(createBiller(openFarEnd(farEndDirectory)), sessionId, { onUpdate: emitted.onUpdate })).result;
      path = `run rejected → resumed in a fresh process → ${resumed.status}`;
    }
    const inspection = await inspectSession(keel, sessionId, emitted, { charged: ['ada', 'bob'], farEndDirectory });
    problems.push(...inspection.problems);
    if (result.outcome === 'rejected' && result.retryable !== true) problems.push('the storage-failure was not retryable.');
    return { path, code: result.code ?? null, retries: inspection.retries, lostEvents: inspection.lostEvents, duplicatedEffects: inspection.duplicatedEffects, problems, note };
  } finally {
    await keel.close();
    await setup.server.close();
  }
}

function storageScenarios(): FaultScenario[] {
  return [
    {
      id: 'sqlite-busy',
      fault: 'SQLite busy: another connection holds the write lock past busy_timeout (100 ms)',
      expectedPath: 'run rejected → resumed → completed',
      expectedCode: 'storage-failure',
      concurrent: false,
      run: async (context) => {
        const path = join(context.scratch, 'keel.db');
        const store = createSqliteStore({ path, busyTimeoutMs: 100 });
        const locker = new Database(path);
        let locked = false;
        return storageRun(
          context,
          async (farEndDirectory) => {
            const setup = await startProvider('anthropic', storageScript, { byTurn: true });
            // The lock is taken while the first charge runs, so its tool-result is the append that times out.
            const agent = createBiller(openFarEnd(farEndDirectory), {
              onAttempt: () => {
                if (locked) return;
                locker.exec('BEGIN IMMEDIATE');
                locked = true;
              },
            });
            const keel = createKeel({ journal: store.journal, blobs: store.blobs, model: setup.model, modelRetries: 2 });
            return { keel, agent, setup, emitted: new EmittedEvents(), farEndDirectory };
          },
          () => {
            if (locker.inTransaction) locker.exec('ROLLBACK');
          },
          true,
          async () => {
            if (locker.inTransaction) locker.exec('ROLLBACK');
            locker.close();
            await store.close();
          },
        );
      },
    },
    {
      id: 'sqlite-busy-default-composition',
      fault: 'SQLite busy, default composition (createKeel({ database })): another process holds the write lock 6.5 s, past the 5 s busy_timeout',
      expectedPath: 'run rejected → resumed → completed',
      expectedCode: 'storage-failure',
      concurrent: false,
      run: (context) => defaultCompositionBusyRun(context),
    },
    {
      id: 'disk-full-file-size-limit',
      fault: 'disk full, default composition: the process may not grow files past 100–250 KB (RLIMIT_FSIZE → EFBIG)',
      expectedPath: 'run rejected → resumed in a fresh process → completed',
      expectedCode: 'storage-failure',
      concurrent: true,
      ...(bash === undefined || process.platform !== 'linux' ? { skip: 'needs Linux and bash to set RLIMIT_FSIZE' } : {}),
      run: (context) => fileSizeLimitedRun(context),
    },
    {
      id: 'disk-full-injected',
      fault: 'disk full on the journal (injected ENOSPC after a random number of appends)',
      expectedPath: 'run rejected → resumed → completed',
      expectedCode: 'storage-failure',
      concurrent: false,
      run: async (context) => {
        const path = join(context.scratch, 'keel.db');
        const store = createSqliteStore({ path });
        // The disk fills after 1 to all-but-one of the session's appends.
        const total = await appendsOfAdaThenBob();
        const journal = fillingJournal(store.journal, 1 + Math.floor(context.random() * (total - 1)), path);
        return storageRun(
          context,
          async (farEndDirectory) => {
            const setup = await startProvider('anthropic', storageScript, { byTurn: true });
            const agent = createBiller(openFarEnd(farEndDirectory));
            const keel = createKeel({ journal, blobs: store.blobs, model: setup.model, modelRetries: 2 });
            return { keel, agent, setup, emitted: new EmittedEvents(), farEndDirectory };
          },
          () => journal.free(),
          false,
          () => store.close(),
        );
      },
    },
    {
      id: 'disk-full-sqlite',
      fault: 'disk full on the journal (SQLite max_page_count reached: SQLITE_FULL)',
      expectedPath: 'run rejected → resumed → completed',
      expectedCode: 'storage-failure',
      concurrent: false,
      run: async (context) => {
        const path = join(context.scratch, 'keel.db');
        const store = createSqliteStore({ path });
        const statement = defineTool({
          name: 'statement',
          description: 'Returns a customer statement.',
          input: z.object({ customer: z.string() }),
          risk: 'read',
          execute: ({ customer }) => `${customer}: ${'line item; '.repeat(600)}`,
        });
        const pages = Number(store.database.pragma('page_count', { simple: true }));
        const headroom = 1 + Math.floor(context.random() * 8);
        store.database.pragma(`max_page_count = ${pages + headroom}`);
        return storageRun(
          context,
          async (farEndDirectory) => {
            const setup = await startProvider(
              'anthropic',
              [
                { kind: 'charge', customers: ['ada'], text: 'Charging ada.', extra: [{ name: 'statement', input: { customer: 'ada' } }] },
                { kind: 'charge', customers: ['bob'], extra: [{ name: 'statement', input: { customer: 'bob' } }] },
                done,
              ],
              { byTurn: true },
            );
            const agent = createBiller(openFarEnd(farEndDirectory), { extraTools: [statement] });
            const keel = createKeel({ journal: store.journal, blobs: store.blobs, model: setup.model, modelRetries: 2 });
            return { keel, agent, setup, emitted: new EmittedEvents(), farEndDirectory };
          },
          () => {
            store.database.pragma('max_page_count = 1073741823');
          },
          false,
          () => store.close(),
        );
      },
    },
  ];
}

export function faultScenarios(): FaultScenario[] {
  return [...providerScenarios(), ...toolScenarios(), ...sandboxScenarios(), ...storageScenarios()];
}
