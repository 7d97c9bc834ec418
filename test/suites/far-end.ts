import { appendFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { ToolDefinition } from '../../src/tools/index.ts';

/**
 * A payment service outside the process under test, kept in a folder so that it survives SIGKILL:
 * every execution appends a line to `attempts.log`; the charge itself is applied at most once per
 * idempotency key, atomically, by hard-linking a finished record to `applied/<key>` (link fails with
 * EEXIST when the key was applied before, as a real API answers a replayed key with the first result).
 */
export interface FarEnd {
  readonly directory: string;
  /** Returns true when this call applied the effect, false when the key had been applied already. */
  apply(key: string, record: AppliedRecord): boolean;
}

export interface AppliedRecord {
  readonly sessionId: string;
  readonly customer: string;
  readonly cents: number;
}

export interface FarEndState {
  /** Executions per idempotency key, in the order they happened. */
  readonly attempts: ReadonlyMap<string, number>;
  readonly applied: ReadonlyMap<string, AppliedRecord>;
}

export function openFarEnd(directory: string): FarEnd {
  mkdirSync(join(directory, 'applied'), { recursive: true });
  mkdirSync(join(directory, 'staging'), { recursive: true });
  let counter = 0;
  return {
    directory,
    apply(key, record) {
      appendFileSync(join(directory, 'attempts.log'), `${key} ${record.sessionId} ${record.customer}\n`);
      counter += 1;
      const staged = join(directory, 'staging', `${key}.${process.pid}.${counter}`);
      writeFileSync(staged, JSON.stringify(record));
      try {
        linkSync(staged, join(directory, 'applied', key));
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        unlinkSync(staged);
      }
    },
  };
}

export function readFarEnd(directory: string): FarEndState {
  const attempts = new Map<string, number>();
  const log = join(directory, 'attempts.log');
  if (existsSync(log)) {
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const key = line.split(' ')[0];
      if (key !== undefined && key !== '') attempts.set(key, (attempts.get(key) ?? 0) + 1);
    }
  }
  const applied = new Map<string, AppliedRecord>();
  const folder = join(directory, 'applied');
  if (existsSync(folder)) {
    for (const key of readdirSync(folder)) applied.set(key, JSON.parse(readFileSync(join(folder, key), 'utf8')) as AppliedRecord);
  }
  return { attempts, applied };
}

const pause = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds));

export interface BillerOptions {
  /** Called right before each execution reaches the far end (the crash worker reports it on stdout). */
  readonly onAttempt?: (key: string, sessionId: string, customer: string) => void;
  /** Upper bound of the random pauses around the far-end call, in ms, to widen the windows a crash can hit. */
  readonly jitterMs?: number;
  readonly name?: string;
  /** Awaited after the far end applied a charge and before the tool returns (a fault can be set up there). */
  readonly afterApply?: (customer: string) => Promise<void>;
  /** More tools beside `charge` and `balance` (the fault suite adds faulty ones). */
  readonly extraTools?: readonly ToolDefinition[];
  /** Defaults to streaming model calls, as agents do. */
  readonly streaming?: boolean;
}

/** The agent both suites drive: `charge` has an external side effect, `balance` only reads. */
export function createBiller(farEnd: FarEnd, options: BillerOptions = {}): AgentDefinition {
  const jitter = options.jitterMs ?? 0;
  const charge = defineTool({
    name: 'charge',
    description: 'Charges a customer, once per idempotency key.',
    input: z.object({ customer: z.string(), cents: z.number().int().positive() }),
    risk: 'write',
    timeoutMs: 10_000,
    execute: async ({ customer, cents }, context) => {
      if (jitter > 0) await pause(Math.floor(Math.random() * jitter));
      options.onAttempt?.(context.idempotencyKey, context.sessionId, customer);
      const applied = farEnd.apply(context.idempotencyKey, { sessionId: context.sessionId, customer, cents });
      await options.afterApply?.(customer);
      if (jitter > 0) await pause(Math.floor(Math.random() * jitter));
      return { charged: customer, cents, replayed: !applied };
    },
  });
  const balance = defineTool({
    name: 'balance',
    description: 'Reads a customer balance.',
    input: z.object({ customer: z.string() }),
    risk: 'read',
    execute: async ({ customer }) => ({ customer, cents: customer.length * 1000 }),
  });
  return defineAgent({
    name: options.name ?? 'suite-biller',
    instructions: 'Charge the customers you are asked to charge, each once.',
    tools: [charge, balance, ...(options.extraTools ?? [])],
    streaming: options.streaming ?? true,
  });
}
