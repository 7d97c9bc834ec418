// The soak's workload: the agents and tools every session uses, and the mock providers' answers. A session's kind
// and number ride in its task, and the answer to a request depends only on the kind and on how many assistant
// messages the request already carries, so a resumed or approved session that asks again gets the same answer, as
// a deterministic model would.
import { z } from 'zod';
import { defineAgent, defineTool } from '../../src/index.ts';
import type { AgentDefinition } from '../../src/index.ts';
import type { AnthropicMockResponse, MockFault, OpenAIMockResponse } from '../../src/testing/index.ts';

export const sessionKinds = ['plain', 'parallel', 'flaky', 'report', 'approval', 'cancel', 'crash'] as const;
export type SessionKind = (typeof sessionKinds)[number];

/** Relative frequency of each kind in the mix; the ones that exercise the common path dominate, as in production. */
export const kindWeights: Readonly<Record<SessionKind, number>> = { plain: 4, parallel: 3, flaky: 2, report: 2, approval: 1, cancel: 1, crash: 1 };

export type Provider = 'anthropic' | 'openai';

/** A secret and an address the sanitizer must redact before the model reads the report. */
export const reportSecret = 'sk-ant-api03-SoakSecretValue0123456789abcdef';
export const reportEmail = 'oncall.person@example.com';
export const reportMaxOutputChars = 1500;

export function taskFor(kind: SessionKind, number: number): string {
  return `soak ${kind} #${number}: follow the script.`;
}

const taskPattern = /soak (\w+) #(\d+)/;

/** The kind and number of the session a request belongs to, from its first user message. */
export function sessionOf(body: unknown): { kind: SessionKind; number: number; step: number } | null {
  const messages = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
  const user = messages.find((message) => message.role === 'user');
  const text = typeof user?.content === 'string' ? user.content : JSON.stringify(user?.content ?? '');
  const match = taskPattern.exec(text);
  if (match === null || !(sessionKinds as readonly string[]).includes(match[1] as string)) return null;
  return { kind: match[1] as SessionKind, number: Number(match[2]), step: messages.filter((message) => message.role === 'assistant').length };
}

interface ToolCall {
  readonly name: string;
  readonly input: Record<string, unknown>;
}
type Reply = { readonly calls: readonly ToolCall[]; readonly text?: string } | { readonly final: string };

/** The logical reply of step `step` (0-based) of a session of `kind`. */
export function replyFor(kind: SessionKind, number: number, step: number): Reply {
  const final = (text: string): Reply => ({ final: `${text} (session ${number})` });
  switch (kind) {
    case 'plain':
    case 'crash':
      if (step === 0) return { calls: [{ name: 'lookup', input: { key: `a${number}` } }], text: 'Looking it up.' };
      if (step === 1) return { calls: [{ name: 'lookup', input: { key: `b${number}` } }] };
      return final('Found both keys.');
    case 'parallel':
      if (step === 0) return { calls: ['a', 'b', 'c'].map((key) => ({ name: 'lookup', input: { key: `${key}${number}` } })) };
      if (step === 1) return { calls: [{ name: 'lookup', input: { key: `d${number}` } }, { name: 'flaky', input: { ticket: number, attempt: 2 } }] };
      return final('All four lookups and the ticket are done.');
    case 'flaky':
      // Attempt 1 always fails: the error goes back to the model, which tries again.
      if (step === 0) return { calls: [{ name: 'flaky', input: { ticket: number, attempt: 1 } }, { name: 'lookup', input: { key: `f${number}` } }] };
      if (step === 1) return { calls: [{ name: 'flaky', input: { ticket: number, attempt: 2 } }] };
      return final('The ticket went through on the second attempt.');
    case 'report':
      if (step === 0) return { calls: [{ name: 'fetch_report', input: { reportId: `r${number}` } }] };
      return final('Summarised the report.');
    case 'approval':
      if (step === 0) return { calls: [{ name: 'issue_refund', input: { order: `o${number}`, cents: 1000 + (number % 500) } }] };
      return final('Refund issued.');
    case 'cancel':
      if (step === 0) return { calls: [{ name: 'slow_job', input: { job: `j${number}` } }] };
      return final('The job finished (it should have been cancelled first).');
  }
}

export function anthropicReply(reply: Reply, number: number, step: number): AnthropicMockResponse {
  if ('final' in reply) return { content: [{ type: 'text', text: reply.final }], usage: { input_tokens: 120 + 40 * step, output_tokens: 15 } };
  return {
    content: [
      ...(reply.text === undefined ? [] : [{ type: 'text' as const, text: reply.text }]),
      ...reply.calls.map((call, index) => ({ type: 'tool_use' as const, id: `toolu_soak_${number}_${step}_${index}`, name: call.name, input: call.input })),
    ],
    usage: { input_tokens: 120 + 40 * step, output_tokens: 20 },
  };
}

export function openAIReply(reply: Reply, number: number, step: number): OpenAIMockResponse {
  if ('final' in reply) return { content: reply.final, usage: { prompt_tokens: 120 + 40 * step, completion_tokens: 15 } };
  return {
    content: reply.text ?? null,
    toolCalls: reply.calls.map((call, index) => ({ id: `call_soak_${number}_${step}_${index}`, name: call.name, arguments: call.input })),
    usage: { prompt_tokens: 120 + 40 * step, completion_tokens: 20 },
  };
}

export interface ScriptOptions {
  readonly latencyMs: number;
  /** Share of model requests answered with a fault (429 with retry-after, or 500) instead of a reply. */
  readonly faultRate: number;
  readonly random: () => number;
}

export interface FaultCounts {
  rateLimited: number;
  serverErrors: number;
  unrecognised: number;
}

/** A mock script: faults at the configured rate, else the session's reply after a jittered latency. */
export function scriptFor<Response>(render: (reply: Reply, number: number, step: number) => Response, options: ScriptOptions, faults: FaultCounts) {
  return (body: unknown): Response | MockFault<Response> => {
    const session = sessionOf(body);
    if (session === null) {
      faults.unrecognised += 1;
      return { fault: 'bad-request', message: 'soak mock: a request without a soak task' };
    }
    const roll = options.random();
    if (roll < options.faultRate / 2) {
      faults.rateLimited += 1;
      // Both forms of the header: seconds (the common one) and milliseconds (what Anthropic and OpenAI also send).
      return roll < options.faultRate / 4 ? { fault: 'rate-limit', retryAfterSeconds: 1 } : { fault: 'rate-limit', retryAfterMs: 50 + Math.floor(options.random() * 100) };
    }
    if (roll < options.faultRate) {
      faults.serverErrors += 1;
      return { fault: 'server-error' };
    }
    const response = render(replyFor(session.kind, session.number, session.step), session.number, session.step);
    const delayMs = Math.round(options.latencyMs * (0.5 + options.random()));
    return { fault: 'slow-first-byte', delayMs, response };
  };
}

/** How long the slow job runs when nobody cancels it: far longer than any cancel delay. */
const slowJobMs = 20_000;

function sleep(milliseconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface ToolEffects {
  /** Refunds executed, by idempotency key: an approved refund must run exactly once. */
  readonly refunds: Map<string, number>;
}

export function soakTools(effects: ToolEffects) {
  const lookup = defineTool({
    name: 'lookup',
    description: 'Looks a key up.',
    input: z.object({ key: z.string() }),
    risk: 'read',
    timeoutMs: 5_000,
    execute: async ({ key }) => `value of ${key}: ${'x'.repeat(180)}`,
  });
  const flaky = defineTool({
    name: 'flaky',
    description: 'Files a ticket upstream; the upstream fails on first attempts.',
    input: z.object({ ticket: z.number().int(), attempt: z.number().int() }),
    risk: 'read',
    timeoutMs: 5_000,
    execute: async ({ ticket, attempt }) => {
      if (attempt < 2) throw new Error(`upstream refused ticket ${ticket} (attempt ${attempt}): try again`);
      return `ticket ${ticket} filed`;
    },
  });
  const fetchReport = defineTool({
    name: 'fetch_report',
    description: 'Fetches a long report.',
    input: z.object({ reportId: z.string() }),
    risk: 'read',
    timeoutMs: 5_000,
    maxOutputChars: reportMaxOutputChars,
    execute: async ({ reportId }) =>
      `Report ${reportId}. Contact ${reportEmail}; deploy key ${reportSecret}.\n${Array.from({ length: 120 }, (_, line) => `line ${line} of ${reportId}: all systems nominal, latency within budget.`).join('\n')}`,
  });
  const issueRefund = defineTool({
    name: 'issue_refund',
    description: 'Refunds an order. Irreversible, so a person approves it.',
    input: z.object({ order: z.string(), cents: z.number().int().positive() }),
    risk: 'irreversible',
    timeoutMs: 5_000,
    execute: async ({ order, cents }, { idempotencyKey }) => {
      effects.refunds.set(idempotencyKey, (effects.refunds.get(idempotencyKey) ?? 0) + 1);
      return `refunded ${cents} cents on ${order}`;
    },
  });
  const slowJob = defineTool({
    name: 'slow_job',
    description: 'Runs a long job; stops when cancelled.',
    input: z.object({ job: z.string() }),
    risk: 'read',
    timeoutMs: 60_000,
    execute: async ({ job }, { signal }) => {
      await sleep(slowJobMs, signal);
      return `job ${job} done`;
    },
  });
  return [lookup, flaky, fetchReport, issueRefund, slowJob];
}

export interface SoakAgents {
  /** By provider, then streaming or not. */
  pick(provider: Provider, streaming: boolean): AgentDefinition;
}

/**
 * `deadline: false` leaves the agents without a session deadline. With one, run-session.ts links each model call's
 * signal to a deadline through AbortSignal.any, and the provider SDKs' never-removed abort listener keeps every such
 * signal alive in Node 20 (see the soak's report); without one the rest of the runtime can be soaked on its own.
 */
export function soakAgents(effects: ToolEffects, options: { readonly deadline: boolean }): SoakAgents {
  const tools = soakTools(effects);
  const make = (provider: Provider, streaming: boolean): AgentDefinition =>
    defineAgent({
      name: `soak-${provider}-${streaming ? 'stream' : 'plain'}`,
      instructions: 'You run the soak script: call the tools you are asked to, then answer.',
      tools,
      model: provider === 'anthropic' ? 'anthropic:claude-sonnet-4-6' : 'openai:gpt-4o',
      streaming,
      limits: { maxTurns: 8, maxIdenticalToolCalls: 3, ...(options.deadline ? { deadlineMs: 120_000 } : {}) },
    });
  const agents = new Map<string, AgentDefinition>();
  for (const provider of ['anthropic', 'openai'] as const) for (const streaming of [true, false]) agents.set(`${provider}:${streaming}`, make(provider, streaming));
  return { pick: (provider, streaming) => agents.get(`${provider}:${streaming}`) as AgentDefinition };
}
