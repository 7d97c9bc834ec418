import { AsyncLocalStorage } from 'node:async_hooks';
import { KeelError, toKeelError } from '../errors/index.ts';
import type { KeelCode } from '../errors/index.ts';
import type { StepClock } from './step-clock.ts';

/** What durable steps need of a Restate context: `ctx.run`, which journals an action's result and replays it. */
export interface StepContext {
  run<T>(name: string, action: () => Promise<T>): PromiseLike<T>;
  /**
   * Awaits several steps as one (Restate's `RestatePromise.race`), which starts all their actions; settles when the
   * first does. Without it steps run one after another.
   */
  startTogether?(steps: readonly PromiseLike<unknown>[]): PromiseLike<unknown>;
}

/** A KeelError as Restate journals it (JSON). */
export interface ErrorJson {
  readonly code: KeelCode;
  readonly message: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly details: Readonly<Record<string, unknown>>;
}

type Settled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ErrorJson };

/** The steps whose actions are running in the current async context, innermost first. */
interface EnclosingStep {
  readonly steps: DurableSteps;
  readonly outer: EnclosingStep | undefined;
}

/**
 * One storage for every session, never one per DurableSteps: on Node 20 and 22 each AsyncLocalStorage ever entered
 * stays registered for the process's life and adds a property to every promise created afterwards, in any session.
 * One per invocation made an endpoint running 300 sessions spend about 6 KB and 0.25 ms on each new promise; it grew
 * to gigabytes at 1,000 sessions.
 */
const enclosingSteps = new AsyncLocalStorage<EnclosingStep>();

/**
 * Runs actions as Restate durable steps (`ctx.run`): the first attempt runs the action and Restate journals its
 * result; a replay after a crash gets the journaled result back without running it again. Each step also records
 * when it ended, which moves the loop's clock. An action that runs inside another step (a tool that asks the
 * session's model for a sample) runs directly: its result is part of the enclosing step's.
 */
export class DurableSteps {
  private readonly context: StepContext;
  private readonly clock: StepClock;
  /** Settles when every step started so far has: steps are awaited one at a time, in the order they started. */
  private awaited: Promise<unknown> = Promise.resolve();
  /** Steps created and not yet awaited: those created in one moment (the calls of one message) start together. */
  private unstarted: PromiseLike<unknown>[] = [];

  constructor(context: StepContext, clock: StepClock) {
    this.context = context;
    this.clock = clock;
  }

  /**
   * A step whose failures are retried by Restate (a throw means the action may not have completed). Steps are
   * awaited one at a time, in the order they were created: the SDK allows one awaiting consumer at a time (two
   * concurrent awaits fail the attempt), and the loop, which journals each outcome as it arrives, must receive them in
   * the same order on every replay. The SDK runs a step's action when the step is awaited, so steps created together
   * are first awaited together once (`startTogether`), which starts them all: the calls of one message run at once.
   */
  async run<T>(name: string, action: () => Promise<T>): Promise<T> {
    if (this.isEnclosed()) return action();
    // The SDK runs the action from its own scheduling, so what encloses the caller is taken here.
    const enclosing: EnclosingStep = { steps: this, outer: enclosingSteps.getStore() };
    const step = this.context.run(name, () => enclosingSteps.run(enclosing, async () => ({ value: await action(), at: Date.now() })));
    if (this.context.startTogether !== undefined) this.unstarted.push(step);
    const turn = this.awaited.then(() => this.start(step)).then(() => step);
    this.awaited = turn.then(
      () => undefined,
      () => undefined,
    );
    const record = await turn;
    this.clock.advance(record.at);
    return record.value;
  }

  /** Whether the caller runs inside one of this session's own steps (another session's step does not count). */
  private isEnclosed(): boolean {
    for (let step = enclosingSteps.getStore(); step !== undefined; step = step.outer) if (step.steps === this) return true;
    return false;
  }

  /** Starts `step` together with the steps created alongside it; the caller then awaits it alone. */
  private async start(step: PromiseLike<unknown>): Promise<void> {
    const startTogether = this.context.startTogether;
    if (startTogether === undefined || !this.unstarted.includes(step)) return;
    // Let the other calls of the message reach their steps: they are created a few promise turns after the first.
    await new Promise((resolve) => setImmediate(resolve));
    const batch = this.unstarted.splice(0);
    if (batch.length > 1) {
      // Which step settles first differs between attempts, and is not used: combinators are not journaled.
      await Promise.resolve(startTogether.call(this.context, batch)).catch(() => undefined);
    }
  }

  /**
   * A step whose failure is an outcome (a model error after the gateway's own retries): journaled as such and thrown
   * again, the same, by every replay.
   */
  async settle<T>(name: string, action: () => Promise<T>): Promise<T> {
    if (this.isEnclosed()) return action();
    const settled = await this.run(name, async (): Promise<Settled<T>> => {
      try {
        return { ok: true, value: await action() };
      } catch (error) {
        return { ok: false, error: errorToJson(toKeelError(error)) };
      }
    });
    if (!settled.ok) throw errorFromJson(settled.error);
    return settled.value;
  }
}

export function errorToJson(error: KeelError): ErrorJson {
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    details: jsonDetails(error.details),
  };
}

export function errorFromJson(json: ErrorJson): KeelError {
  return new KeelError(json.code, json.message, { retryable: json.retryable, details: json.details, ...(json.retryAfterMs === undefined ? {} : { retryAfterMs: json.retryAfterMs }) });
}

/** Details as JSON keeps them; a value JSON cannot hold (a bigint, a cycle) is dropped, never a failed step. */
function jsonDetails(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    try {
      const text = JSON.stringify(value);
      if (text !== undefined) kept[key] = JSON.parse(text) as unknown;
    } catch {
      // Not representable in the journal.
    }
  }
  return kept;
}
