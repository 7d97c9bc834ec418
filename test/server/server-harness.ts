import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool } from '../../src/index.ts';
import type { AgentDefinition, Keel, KeelOptions } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import type { ScriptedResponseInput } from '../../src/model/scripted-script.ts';
import { createKeelServer, createServerLogger } from '../../src/server/index.ts';
import type { KeelServer, KeelServerOptions } from '../../src/server/index.ts';
import type { Model } from '../../src/spec/model.ts';
import type { ApiRole } from '../../src/server/api-schemas.ts';

/** The scripted model, waiting `delayMs(turnIndex)` before each answer; the wait ends early when the call is aborted. */
export function slowModel(script: readonly ScriptedResponseInput[], delayMs: (index: number) => number, aborted: string[] = []): Model {
  const inner = createScriptedModel(script);
  const wait = async (request: { messages: readonly { role: string }[] }, signal: AbortSignal): Promise<void> => {
    const index = request.messages.filter((message) => message.role === 'assistant').length;
    const ms = delayMs(index);
    if (ms <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        aborted.push(`call ${index + 1}`);
        reject(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError'));
      }, { once: true });
    });
  };
  return {
    provider: inner.provider,
    modelId: inner.modelId,
    async generate(request, signal) {
      await wait(request, signal);
      return inner.generate(request, signal);
    },
    async *stream(request, signal) {
      await wait(request, signal);
      yield* inner.stream(request, signal);
    },
  };
}

export const answer = (text: string): ScriptedResponseInput => ({ role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text }], usage: { input_tokens: 10, output_tokens: 5 } });
export const callTool = (id: string, name: string, input: Record<string, unknown>): ScriptedResponseInput => ({ role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id, name, input }], usage: { input_tokens: 10, output_tokens: 5 } });

/** Effects the fixture tools had, to check compensation and approvals from outside the journal. */
export interface ToolEffects {
  readonly booked: string[];
  readonly released: string[];
  readonly refunds: { orderId: string; amount: number }[];
}

export function fixtureAgents(effects: ToolEffects): AgentDefinition[] {
  const book = defineTool({
    name: 'book',
    description: 'Books a slot; undone by releasing it.',
    input: z.object({ slot: z.string() }),
    risk: 'write',
    execute: ({ slot }) => {
      effects.booked.push(slot);
      return `booked ${slot}`;
    },
    compensate: ({ slot }) => {
      effects.released.push(slot);
    },
  });
  const refund = defineTool({
    name: 'refund',
    description: 'Refunds an amount on an order.',
    input: z.object({ orderId: z.string(), amount: z.number().positive() }),
    risk: 'irreversible',
    execute: ({ orderId, amount }) => {
      effects.refunds.push({ orderId, amount });
      return `refunded ${amount} on ${orderId}`;
    },
  });
  return [
    defineAgent({ name: 'echo', instructions: 'Answer.', tools: [], model: 'echo-model' }),
    defineAgent({ name: 'booker', instructions: 'Book, then wait.', tools: [book], model: 'booker-model' }),
    defineAgent({ name: 'refunder', instructions: 'Refund.', tools: [refund], model: 'refunder-model' }),
  ];
}

export interface Harness {
  readonly url: string;
  readonly keel: Keel;
  readonly server: KeelServer;
  readonly adminKey: string;
  readonly effects: ToolEffects;
  readonly logs: string[];
  readonly abortedCalls: string[];
  /** A key of `tenant` with `roles`, created through the store. */
  key(tenant: string, roles: readonly ApiRole[]): Promise<string>;
  request(path: string, init?: { method?: string; key?: string | null; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Milliseconds the booker's model waits before answer `index` (0-based). */
  readonly bookerDelay?: (index: number) => number;
  readonly echoDelay?: (index: number) => number;
  readonly server?: Partial<KeelServerOptions>;
  readonly keel?: Partial<KeelOptions>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const folder = mkdtempSync(join(tmpdir(), 'keel-server-'));
  const effects: ToolEffects = { booked: [], released: [], refunds: [] };
  const abortedCalls: string[] = [];
  const logs: string[] = [];
  const keel = createKeel({
    database: join(folder, 'keel.db'),
    models: {
      'echo-model': slowModel([answer('Hello from echo.')], options.echoDelay ?? (() => 0), abortedCalls),
      'booker-model': slowModel([callTool('toolu_book', 'book', { slot: 'tuesday-9' }), answer('Booked and done.')], options.bookerDelay ?? (() => 0), abortedCalls),
      'refunder-model': slowModel([callTool('toolu_refund', 'refund', { orderId: '1042', amount: 500 }), answer('Refund handled.')], () => 0, abortedCalls),
    },
    env: {},
    ...options.keel,
  });
  const logger = createServerLogger(new Writable({ write: (chunk: Buffer, _encoding, done) => { logs.push(chunk.toString()); done(); } }));
  const server = createKeelServer({ keel, agents: fixtureAgents(effects), logger, consoleFolder: null, keepAliveMs: 200, pollMs: 100, ...options.server });
  const adminKey = (await server.ensureAdminKey()) as string;
  const { url } = await server.listen({ port: 0 });
  return {
    url,
    keel,
    server,
    adminKey,
    effects,
    logs,
    abortedCalls,
    key: async (tenant, roles) => (await server.keys.create({ name: `${tenant}-${roles.join('+')}`, tenant, roles, createdBy: null })).key,
    async request(path, init = {}) {
      const key = init.key === undefined ? adminKey : init.key;
      const response = await fetch(`${url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: { ...(key === null ? {} : { authorization: `Bearer ${key}` }), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
        ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Not JSON (metrics, an event stream): the text itself.
      }
      return { status: response.status, body, headers: response.headers };
    },
    async close() {
      await server.close();
      await keel.close();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` passes (the session moved on in the background), failing after `timeoutMs`. */
export async function eventually<T>(read: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
