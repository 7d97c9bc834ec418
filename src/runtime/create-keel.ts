import { resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { systemClock } from '../util/index.ts';
import { costOf, createGateway, createModelFromSpec, defaultModelSpec } from '../model/index.ts';
import { createMemoryBlobStore, createMemoryJournal, createSqliteStore } from '../store/index.ts';
import { recordApproval, resumeSession, startSession } from '../loop/index.ts';
import { buildTraceTree } from '../tracing/index.ts';
import type { AgentDefinition, ApprovalDecision, LoopDependencies, ModelCaller, RunOptions, SessionRun } from '../loop/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal, ListSessionsOptions, SessionSummary } from '../spec/journal.ts';
import type { Model } from '../spec/model.ts';
import type { TraceTree } from '../tracing/index.ts';

export interface KeelOptions {
  /** SQLite file for the journal and blobs; `:memory:` keeps everything in this process. Else `KEEL_DB`, else `.keel/keel.db` under `cwd`. */
  readonly database?: string;
  /** Backends given directly win over `database`. */
  readonly journal?: Journal;
  readonly blobs?: BlobStore;
  /** A model spec or a Model. Else the agent's own, else `KEEL_MODEL`, else chosen from the API keys present. */
  readonly model?: string | Model;
  /** Retries of retryable model failures. Defaults to 4. */
  readonly modelRetries?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly clock?: Clock;
}

export interface KeelRunOptions extends RunOptions {
  readonly sessionId?: string;
  readonly parentSessionId?: string;
  /** The module that exports the agent, recorded so that `keel resume` can load it. */
  readonly agentModule?: string;
  /** Per-run model override. */
  readonly model?: string | Model;
}

export interface Keel {
  readonly databasePath: string | null;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  run(agent: AgentDefinition, task: string | undefined, options?: KeelRunOptions): SessionRun;
  resume(agent: AgentDefinition, sessionId: string, options?: RunOptions & { readonly model?: string | Model }): Promise<SessionRun>;
  /** Journals a person's approval or rejection of a waiting call, then resumes the session. */
  decide(agent: AgentDefinition, sessionId: string, callId: string, decision: ApprovalDecision, options?: RunOptions & { readonly model?: string | Model }): Promise<SessionRun>;
  events(sessionId: string): Promise<readonly SessionEvent[]>;
  sessions(options?: ListSessionsOptions): Promise<readonly SessionSummary[]>;
  trace(sessionId: string): Promise<TraceTree>;
  close(): Promise<void>;
}

/** The composition root: configuration resolves here, once (argument, then environment variable, then default). */
export function createKeel(options: KeelOptions = {}): Keel {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const clock = options.clock ?? systemClock;
  let databasePath: string | null = null;
  let journal = options.journal;
  let blobs = options.blobs;
  let closeStore: () => Promise<void> = async () => undefined;
  if (journal === undefined || blobs === undefined) {
    const database = options.database ?? env.KEEL_DB ?? resolve(cwd, '.keel', 'keel.db');
    if (database === ':memory:') {
      journal ??= createMemoryJournal();
      blobs ??= createMemoryBlobStore();
    } else {
      databasePath = resolve(cwd, database);
      const store = createSqliteStore({ path: databasePath });
      journal ??= store.journal;
      blobs ??= store.blobs;
      closeStore = () => store.close();
    }
  }
  const resolvedJournal = journal;
  const resolvedBlobs = blobs;

  const modelCaller = (choice: string | Model | undefined, agent: AgentDefinition): { caller: ModelCaller; spec: string | undefined } => {
    let model: Model;
    let spec: string | undefined;
    if (choice !== undefined && typeof choice !== 'string') {
      model = choice;
    } else {
      spec = choice ?? agent.model ?? env.KEEL_MODEL ?? defaultModelSpec(env);
      model = createModelFromSpec(spec, { env, cwd });
    }
    const gateway = createGateway(model, { maxRetries: options.modelRetries ?? 4, clock });
    return { caller: gateway, spec };
  };

  const dependencies = (caller: ModelCaller): LoopDependencies => ({
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    model: caller,
    clock,
    price: (usage, modelId) => costOf(caller.provider, modelId, usage),
  });

  const readEvents = async (sessionId: string): Promise<SessionEvent[]> => {
    const events: SessionEvent[] = [];
    for await (const event of resolvedJournal.read(sessionId)) events.push(event);
    if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId} in ${databasePath ?? 'this journal'}; list them with \`keel sessions\`.`);
    return events;
  };

  return {
    databasePath,
    journal: resolvedJournal,
    blobs: resolvedBlobs,
    run(agent, task, runOptions = {}) {
      const input = task ?? agent.defaultTask;
      if (input === undefined || input === null || input.trim() === '') {
        throw new KeelError('invalid-argument', `Agent "${agent.name}" has no default task; give one, for example \`keel run <agent-module> "your task"\`.`);
      }
      const { caller, spec } = modelCaller(runOptions.model ?? options.model, agent);
      return startSession(agent, dependencies(caller), {
        ...runOptions,
        input,
        ...(spec === undefined ? {} : { modelSpec: spec }),
      });
    },
    async resume(agent, sessionId, resumeOptions = {}) {
      const events = await readEvents(sessionId);
      const start = events[0];
      const recorded = start?.type === 'session-start' ? start.model.spec : undefined;
      const { caller } = modelCaller(resumeOptions.model ?? options.model ?? recorded, agent);
      return resumeSession(agent, dependencies(caller), sessionId, resumeOptions);
    },
    async decide(agent, sessionId, callId, decision, resumeOptions = {}) {
      await recordApproval(resolvedJournal, clock, agent, sessionId, callId, decision);
      return this.resume(agent, sessionId, resumeOptions);
    },
    events: readEvents,
    sessions: (listOptions) => resolvedJournal.listSessions(listOptions),
    async trace(sessionId) {
      return buildTraceTree(await readEvents(sessionId));
    },
    async close() {
      await closeStore();
    },
  };
}
