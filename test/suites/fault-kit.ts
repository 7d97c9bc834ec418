// Building blocks of the fault suite: real provider classes against the mock servers, a recorder of the errors the
// gateway retried, a network cut injected through the SDK's `fetch`, a journal that runs out of space, and the
// checks every run ends with (journal valid, nothing lost, nothing duplicated) and every scenario ends with (the
// process still healthy).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { z } from 'zod';
import { toKeelError } from '../../src/errors/index.ts';
import type { KeelError } from '../../src/errors/index.ts';
import { defineAgent } from '../../src/loop/index.ts';
import { createAnthropicModel, createOpenAIModel, createScriptedModel } from '../../src/model/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import type { SessionUpdate } from '../../src/loop/index.ts';
import { toStorageFailure, validateJournal } from '../../src/store/index.ts';
import type { Journal, Model, ModelStreamPart, SessionEvent } from '../../src/spec/index.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply, MockFault, MockServer, OpenAIMockReply } from '../../src/testing/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createBiller, openFarEnd, readFarEnd } from './far-end.ts';

export type Provider = 'anthropic' | 'openai';

/** One logical reply, written once and rendered in each provider's mock format. */
export type Reply =
  | { readonly kind: 'charge'; readonly customers: readonly string[]; readonly text?: string; readonly extra?: readonly { readonly name: string; readonly input: Record<string, unknown> }[] }
  | { readonly kind: 'final'; readonly text: string };

export const centsOf: Readonly<Record<string, number>> = { ada: 1200, bob: 800, cy: 500 };

export function anthropicReply(reply: Reply, turn: number): AnthropicMockReply {
  if (reply.kind === 'final') return { content: [{ type: 'text', text: reply.text }] };
  return {
    content: [
      ...(reply.text === undefined ? [] : [{ type: 'text' as const, text: reply.text }]),
      ...reply.customers.map((customer) => ({ type: 'tool_use' as const, id: `toolu_${turn}_${customer}`, name: 'charge', input: { customer, cents: centsOf[customer] ?? 100 } })),
      ...(reply.extra ?? []).map((call, index) => ({ type: 'tool_use' as const, id: `toolu_${turn}_x${index}`, name: call.name, input: call.input })),
    ],
  };
}

export function openAIReply(reply: Reply, turn: number): OpenAIMockReply {
  if (reply.kind === 'final') return { content: reply.text };
  return {
    content: reply.text ?? null,
    toolCalls: [
      ...reply.customers.map((customer) => ({ id: `call_${turn}_${customer}`, name: 'charge', arguments: { customer, cents: centsOf[customer] ?? 100 } })),
      ...(reply.extra ?? []).map((call, index) => ({ id: `call_${turn}_x${index}`, name: call.name, arguments: call.input })),
    ],
  };
}

export type ScriptEntry = Reply | MockFault<never>;

/** The storage scenarios' session: charge ada, then bob, then answer. */
export const adaThenBob: readonly ScriptEntry[] = [
  { kind: 'charge', customers: ['ada'], text: 'Charging ada first.' },
  { kind: 'charge', customers: ['bob'] },
  { kind: 'final', text: 'Charged ada and bob.' },
];

const isFault = (entry: ScriptEntry): entry is MockFault<never> => 'fault' in entry;

/** The errors the gateway saw from the provider, one per failed attempt. The Model is passed through unchanged. */
export function recordFailures(model: Model): { model: Model; failures: KeelError[] } {
  const failures: KeelError[] = [];
  return {
    failures,
    model: {
      provider: model.provider,
      modelId: model.modelId,
      async generate(request, signal) {
        try {
          return await model.generate(request, signal);
        } catch (error) {
          failures.push(toKeelError(error));
          throw error;
        }
      },
      async *stream(request, signal): AsyncGenerator<ModelStreamPart> {
        try {
          yield* model.stream(request, signal);
        } catch (error) {
          failures.push(toKeelError(error));
          throw error;
        }
      },
    },
  };
}

/**
 * A `fetch` that delivers request number `cutRequest` (1-based) only up to the end of the first server-sent event
 * matching `marker`, then ends the body cleanly (`eof`, as a proxy that closes early) or breaks it (`error`, as a
 * dropped connection). Every other request passes untouched.
 */
export function cuttingFetch(cutRequest: number, marker: RegExp, mode: 'eof' | 'error'): { fetch: typeof globalThis.fetch; cuts: () => number } {
  let count = 0;
  let cuts = 0;
  const cutting: typeof globalThis.fetch = async (input, init) => {
    count += 1;
    const response = await globalThis.fetch(input, init);
    if (count !== cutRequest || response.body === null || !(response.headers.get('content-type') ?? '').includes('text/event-stream')) return response;
    const text = await response.text();
    const at = text.search(marker);
    const end = at < 0 ? text.length : text.indexOf('\n\n', at) + 2;
    if (at >= 0) cuts += 1;
    const prefix = new TextEncoder().encode(text.slice(0, end));
    let sent = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(prefix);
          return;
        }
        if (mode === 'eof') controller.close();
        else controller.error(new TypeError('terminated', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: cutting, cuts: () => cuts };
}

/** Where a tool call's arguments start streaming, per provider: a cut just after it leaves a half-sent call. */
export const toolArgumentsMarker: Readonly<Record<Provider, RegExp>> = {
  anthropic: /"partial_json":"[^"]/,
  openai: /"arguments":"[^"]/,
};

export interface ProviderSetup {
  readonly server: MockServer;
  readonly model: Model;
  readonly failures: KeelError[];
}

export interface ProviderOptions {
  readonly timeoutMs?: number;
  readonly fetch?: typeof globalThis.fetch;
}

/** A real provider class (Anthropic or OpenAI SDK) on a mock server that plays `script`, faults included. */
/**
 * A real provider class (Anthropic or OpenAI SDK) on a mock server. `script` is played in request order, faults
 * included; with `byTurn`, the reply is chosen by the number of assistant messages in the request instead, so that a
 * resumed session that asks again for the same turn gets the same answer (as a deterministic model would).
 */
export async function startProvider(provider: Provider, script: readonly ScriptEntry[], options: ProviderOptions & { readonly byTurn?: boolean } = {}): Promise<ProviderSetup> {
  let turn = 0;
  const extras = {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  };
  const assistantTurns = (body: unknown): number => {
    const messages = (body as { messages?: { role?: string }[] } | undefined)?.messages ?? [];
    return messages.filter((message) => message.role === 'assistant').length;
  };
  if (provider === 'anthropic') {
    const replies = script.map((entry) => (isFault(entry) ? entry : anthropicReply(entry, (turn += 1)))) as AnthropicMockReply[];
    const server = await startMockAnthropicServer({ script: options.byTurn === true ? (body) => replies[assistantTurns(body)] as AnthropicMockReply : replies });
    const recorded = recordFailures(createAnthropicModel({ modelId: 'claude-sonnet-4-6', apiKey: 'test-key', baseURL: server.baseURL, ...extras }));
    return { server, ...recorded };
  }
  const replies = script.map((entry) => (isFault(entry) ? entry : openAIReply(entry, (turn += 1)))) as OpenAIMockReply[];
  const server = await startMockOpenAIServer({ script: options.byTurn === true ? (body) => replies[assistantTurns(body)] as OpenAIMockReply : replies });
  const recorded = recordFailures(createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'test-key', baseURL: server.baseURL, ...extras }));
  return { server, ...recorded };
}

let storageAppends: Promise<number> | undefined;
/** Journal appends of one uninterrupted `adaThenBob` session, measured once, so faults can strike anywhere in it. */
export function appendsOfAdaThenBob(): Promise<number> {
  storageAppends ??= (async () => {
    const setup = await startProvider('anthropic', adaThenBob, { byTurn: true });
    const scratch = mkdtempSync(join(tmpdir(), 'keel-fault-reference-'));
    const keel = createKeel({ database: ':memory:', model: setup.model, modelRetries: 0 });
    let appends = 0;
    const append = keel.journal.append.bind(keel.journal);
    (keel.journal as { append: typeof append }).append = async (...parameters) => {
      appends += 1;
      return append(...parameters);
    };
    try {
      await keel.run(createBiller(openFarEnd(join(scratch, 'far-end'))), 'Charge ada and bob.').result;
      return appends;
    } finally {
      await keel.close();
      await setup.server.close();
      rmSync(scratch, { recursive: true, force: true });
    }
  })();
  return storageAppends;
}

/** Collects the events a run reports as written, across a run and its resumes. */
export class EmittedEvents {
  readonly events: SessionEvent[] = [];
  readonly onUpdate = (update: SessionUpdate): void => {
    if (update.type === 'event') this.events.push(update.event);
  };
}

export interface Inspection {
  readonly events: readonly SessionEvent[];
  readonly lostEvents: number;
  readonly duplicatedEffects: number;
  readonly retries: number;
  readonly problems: string[];
}

export interface InspectOptions {
  /** Customers that must have been charged exactly once. */
  readonly charged: readonly string[];
  readonly farEndDirectory: string;
}

/**
 * The checks every run ends with: the journal validates; every event the runtime reported as written is there and
 * nothing else is (no half-written batch); every call of an ended session has an outcome; every charge result has
 * its effect at the far end and every effect its request; each expected customer was charged exactly once.
 */
export async function inspectSession(keel: Keel, sessionId: string, emitted: EmittedEvents, options: InspectOptions): Promise<Inspection> {
  const problems: string[] = [];
  const events = await keel.events(sessionId);
  let lostEvents = 0;
  const validation = validateJournal(events);
  lostEvents += validation.problems.length;
  problems.push(...validation.problems);
  for (const event of emitted.events) {
    const stored = events[event.seq - 1];
    if (stored === undefined || stored.type !== event.type) {
      lostEvents += 1;
      problems.push(`seq ${event.seq}: ${event.type} was reported written but the journal has ${stored?.type ?? 'nothing'}.`);
    }
  }
  const reported = new Set(emitted.events.map((event) => event.seq));
  for (const event of events) {
    if (!reported.has(event.seq)) problems.push(`seq ${event.seq}: ${event.type} is in the journal but was never reported written (half-written batch?).`);
  }
  const ended = events.at(-1)?.type === 'session-end';
  const keyOf = new Map<string, string>();
  const answered = new Set<string>();
  const chargeResultKeys: string[] = [];
  const failedKeys = new Map<string, string>();
  for (const event of events) {
    if (event.type === 'tool-request') keyOf.set(event.callId, event.idempotencyKey);
    if (event.type === 'tool-result' || event.type === 'tool-error') answered.add(event.callId);
    if (event.type === 'tool-result' && event.tool === 'charge') chargeResultKeys.push(keyOf.get(event.callId) ?? '');
    if (event.type === 'tool-error' && event.tool === 'charge') failedKeys.set(keyOf.get(event.callId) ?? '', `${event.error.code}: ${event.error.message}`);
  }
  if (ended) {
    for (const callId of keyOf.keys()) {
      if (!answered.has(callId)) {
        lostEvents += 1;
        problems.push(`call ${callId} has no outcome in an ended session.`);
      }
    }
  }
  const farEnd = readFarEnd(options.farEndDirectory);
  const requestedKeys = new Set(keyOf.values());
  for (const key of chargeResultKeys) {
    if (!farEnd.applied.has(key)) {
      lostEvents += 1;
      problems.push(`the charge result with key ${key} has no effect at the far end.`);
    }
  }
  const perCustomer = new Map<string, number>();
  for (const [key, record] of farEnd.applied) {
    if (record.sessionId !== sessionId) continue;
    if (!requestedKeys.has(key)) {
      lostEvents += 1;
      problems.push(`an effect with key ${key} (${record.customer}) has no tool-request in the journal.`);
    }
    perCustomer.set(record.customer, (perCustomer.get(record.customer) ?? 0) + 1);
    const failure = failedKeys.get(key);
    if (failure !== undefined) {
      // The effect happened but the journal says the call failed: its true outcome is lost, and no resume re-runs it.
      lostEvents += 1;
      problems.push(`the charge of ${record.customer} (key ${key}) was applied, but the journal records it as failed (${failure.slice(0, 160)}).`);
    }
  }
  let duplicatedEffects = 0;
  for (const [customer, count] of perCustomer) {
    if (count > 1) {
      duplicatedEffects += count - 1;
      problems.push(`${customer} was charged ${count} times.`);
    }
  }
  const expected = [...options.charged].sort();
  const actual = [...perCustomer.keys()].sort();
  if (JSON.stringify(expected) !== JSON.stringify(actual)) problems.push(`charged ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}.`);
  let retries = 0;
  for (const event of events) {
    if (event.type === 'model-response' || event.type === 'model-error') retries += event.retries;
  }
  return { events, lostEvents, duplicatedEffects, retries, problems };
}

/** The session's end, as the summary table words it. */
export function endOf(events: readonly SessionEvent[]): { status: string; code: string | null } {
  const end = events.at(-1);
  if (end?.type !== 'session-end') return { status: 'open', code: null };
  return { status: end.status, code: end.error?.code ?? null };
}

/** Codes of tool errors in the journal, in order. */
export function toolErrorCodes(events: readonly SessionEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'tool-error' ? [event.error.code] : []));
}

/**
 * A journal whose disk fills after `appendsBeforeFull` successful appends: each later append throws the same
 * `storage-failure` that a real ENOSPC from the file system maps to, and writes nothing, until `free()`.
 */
export function fillingJournal(inner: Journal, appendsBeforeFull: number, path: string): Journal & { free(): void; failures(): number } {
  let appends = 0;
  let full = false;
  let failures = 0;
  return {
    read: (id, from) => inner.read(id, from),
    lastSeq: (id) => inner.lastSeq(id),
    listSessions: (options) => inner.listSessions(options),
    close: () => inner.close(),
    async append(id, events, expectedSeq) {
      if (!full && appends >= appendsBeforeFull) full = true;
      if (full) {
        failures += 1;
        const enospc = Object.assign(new Error(`ENOSPC: no space left on device, write '${path}-wal'`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        throw toStorageFailure(enospc, { path, action: `appending to session ${id}` });
      }
      const last = await inner.append(id, events, expectedSeq);
      appends += 1;
      return last;
    },
    free() {
      full = false;
      appends = Number.NEGATIVE_INFINITY;
    },
    failures: () => failures,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Process health

let collect: (() => void) | undefined;
/** A full garbage collection, exposing `gc` at run time when the process was started without --expose-gc. */
export function collectGarbage(): void {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed !== undefined) collect = exposed;
    else {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    }
  }
  collect();
}

export interface HealthSnapshot {
  readonly heapUsed: number;
  readonly rss: number;
  readonly resources: ReadonlyMap<string, number>;
}

export function healthSnapshot(): HealthSnapshot {
  collectGarbage();
  const memory = process.memoryUsage();
  const resources = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) resources.set(type, (resources.get(type) ?? 0) + 1);
  return { heapUsed: memory.heapUsed, rss: memory.rss, resources };
}

export interface Health {
  readonly healthy: boolean;
  readonly heapDeltaMb: number;
  /** Active handles and requests left over, by type, compared with before the scenario. */
  readonly leaked: readonly string[];
  readonly normalSession: string;
  readonly note: string;
}

const heapAllowanceMb = 48;

/** Whether a plain session still completes, the heap came back, and nothing was left open. */
export async function checkHealth(before: HealthSnapshot): Promise<Health> {
  const normalSession = await runNormalSession();
  let after = healthSnapshot();
  let leaked = leakedResources(before, after);
  // Sockets and timers wind down over a few ticks after their owners close.
  for (let attempt = 0; attempt < 20 && leaked.length > 0; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = healthSnapshot();
    leaked = leakedResources(before, after);
  }
  const heapDeltaMb = Math.round(((after.heapUsed - before.heapUsed) / 1024 / 1024) * 10) / 10;
  const problems = [
    ...(normalSession === 'completed' ? [] : [`a plain session ended ${normalSession}`]),
    ...(heapDeltaMb > heapAllowanceMb ? [`heap grew ${heapDeltaMb} MB`] : []),
    ...(leaked.length > 0 ? [`left open: ${leaked.join(', ')}`] : []),
  ];
  return { healthy: problems.length === 0, heapDeltaMb, leaked, normalSession, note: problems.length === 0 ? `heap ${heapDeltaMb >= 0 ? '+' : ''}${heapDeltaMb} MB, no handles left` : problems.join('; ') };
}

function leakedResources(before: HealthSnapshot, after: HealthSnapshot): string[] {
  const leaked: string[] = [];
  for (const [type, count] of after.resources) {
    const extra = count - (before.resources.get(type) ?? 0);
    if (extra > 0) leaked.push(`${type} +${extra}`);
  }
  return leaked;
}

async function runNormalSession(): Promise<string> {
  const echo = defineTool({ name: 'echo', description: 'Echoes.', input: z.object({ text: z.string() }), risk: 'read', execute: ({ text }) => text });
  const agent = defineAgent({ name: 'health-probe', instructions: 'Echo, then answer.', tools: [echo] });
  const model = createScriptedModel([
    { content: [{ type: 'tool_use', name: 'echo', input: { text: 'ping' } }] },
    { content: [{ type: 'text', text: 'pong' }] },
  ]);
  const keel = createKeel({ database: ':memory:', model, modelRetries: 0 });
  try {
    const result = await keel.run(agent, 'Ping.').result;
    return result.status === 'completed' && result.output === 'pong' ? 'completed' : `${result.status} (${result.error?.code ?? 'no error'})`;
  } catch (error) {
    return `by throwing ${toKeelError(error).code}`;
  } finally {
    await keel.close();
  }
}
