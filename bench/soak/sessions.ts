// One soak session of each kind, driven through the public API, and the checks of how it must end. Every check
// reads the journal back, so a session that ended as expected but left a malformed journal still counts as a miss.
import { createKeel, isKeelError, KeelError, validateJournal } from '../../src/index.ts';
import type { AgentDefinition, Keel, KeelOptions, SessionEvent, SessionResult } from '../../src/index.ts';
import type { IdempotencyStore, RecordedToolOutcome } from '../../src/store/index.ts';
import type { Journal } from '../../src/spec/journal.ts';
import { reportEmail, reportMaxOutputChars, reportSecret, taskFor } from './scenarios.ts';
import type { Provider, SessionKind, SoakAgents, ToolEffects } from './scenarios.ts';

export interface SessionOutcome {
  readonly kind: SessionKind;
  readonly provider: Provider;
  readonly streaming: boolean;
  readonly sessionId: string;
  readonly ok: boolean;
  readonly problems: readonly string[];
  /** Model retries the journal recorded (the injected 429s and 500s that hit this session). */
  readonly retries: number;
  readonly durationMs: number;
}

export interface SessionDriver {
  readonly keel: Keel;
  /** Runs the `crash` sessions until their journal "dies"; `keel` then resumes them, as another process would. */
  readonly crashKeel: Keel;
  readonly agents: SoakAgents;
  readonly effects: ToolEffects;
  readonly random: () => number;
  /** A session still running after this long is aborted and counted as hung. */
  readonly watchdogMs: number;
}

const crashIdPattern = /^ses_soakcrash_\d+_(\d+)$/;

/**
 * A journal that stops accepting writes for a `crash` session past the seq its id names, and never accepts them
 * again: what a killed process looks like to the journal. Stateless, so it holds nothing per session.
 */
export function crashingJournal(inner: Journal): Journal {
  return {
    read: (sessionId, fromSeq) => inner.read(sessionId, fromSeq),
    lastSeq: (sessionId) => inner.lastSeq(sessionId),
    listSessions: (options) => inner.listSessions(options),
    close: async () => undefined,
    async append(sessionId, events, expectedSeq) {
      const match = crashIdPattern.exec(sessionId);
      if (match !== null && expectedSeq + events.length > Number(match[1])) {
        throw new KeelError('storage-failure', `soak: the process running ${sessionId} "died" before seq ${expectedSeq + 1}`);
      }
      return inner.append(sessionId, events, expectedSeq);
    },
  };
}

/** The crashing instance keeps outcomes in memory; bounded, so that the soak itself does not grow. */
function boundedIdempotencyStore(capacity: number): IdempotencyStore {
  const entries = new Map<string, RecordedToolOutcome>();
  return {
    get: async (key) => entries.get(key),
    put: async (key, outcome) => {
      if (entries.has(key)) return;
      entries.set(key, outcome);
      if (entries.size > capacity) entries.delete(entries.keys().next().value as string);
    },
  };
}

/** A second Keel on the same journal, blobs and audit log, whose `crash` sessions die mid-way. */
export function createCrashKeel(keel: Keel, options: KeelOptions): Keel {
  return createKeel({ ...options, journal: crashingJournal(keel.journal), blobs: keel.blobs, auditLog: keel.audit, idempotency: boundedIdempotencyStore(1000) });
}

function withWatchdog<Result>(driver: SessionDriver, controller: AbortController, work: Promise<Result>): Promise<Result> {
  let timer: NodeJS.Timeout | undefined;
  const watchdog = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort(new KeelError('cancelled', 'soak watchdog'));
      reject(new Error(`hung: still running after ${driver.watchdogMs} ms`));
    }, driver.watchdogMs);
  });
  return Promise.race([work, watchdog]).finally(() => clearTimeout(timer));
}

interface Expectation {
  readonly status: SessionResult['status'];
  readonly toolErrors: number;
}

const expectations: Readonly<Record<SessionKind, Expectation>> = {
  plain: { status: 'completed', toolErrors: 0 },
  parallel: { status: 'completed', toolErrors: 0 },
  flaky: { status: 'completed', toolErrors: 1 },
  report: { status: 'completed', toolErrors: 0 },
  approval: { status: 'completed', toolErrors: 0 },
  cancel: { status: 'cancelled', toolErrors: 0 },
  crash: { status: 'completed', toolErrors: 0 },
};

/** Drives the session of its kind to its end; returns problems instead of throwing. */
async function drive(driver: SessionDriver, kind: SessionKind, agent: AgentDefinition, task: string, sessionId: string, controller: AbortController, problems: string[]): Promise<SessionResult | null> {
  const { keel } = driver;
  const signal = controller.signal;
  switch (kind) {
    case 'approval': {
      const first = await keel.run(agent, { task: task, sessionId, signal }).result;
      const pending = first.pendingApprovals[0];
      if (first.status !== 'awaiting-approval' || pending === undefined || pending.tool !== 'issue_refund') {
        problems.push(`expected to wait for approval of issue_refund, got ${first.status} (${first.pendingApprovals.map((entry) => entry.tool).join(',')})`);
        return first;
      }
      return (await keel.decide(agent, sessionId, pending.callId, { approved: true, approver: 'soak-approver' }, { signal })).result;
    }
    case 'cancel': {
      // Anywhere from the first model call to the middle of the slow tool.
      const timer = setTimeout(() => controller.abort(new KeelError('cancelled', 'soak: cancelled by the caller')), 20 + Math.floor(driver.random() * 400));
      try {
        return await keel.run(agent, { task: task, sessionId, signal }).result;
      } finally {
        clearTimeout(timer);
      }
    }
    case 'crash': {
      try {
        const result = await driver.crashKeel.run(agent, { task: task, sessionId, signal }).result;
        problems.push(`the crashing instance was meant to die, but the session ended ${result.status}`);
        return result;
      } catch (error) {
        if (!isKeelError(error) || error.code !== 'storage-failure') throw error;
      }
      return (await keel.resume(agent, sessionId, { signal })).result;
    }
    default:
      return keel.run(agent, { task: task, sessionId, signal }).result;
  }
}

export async function runSoakSession(driver: SessionDriver, kind: SessionKind, number: number, provider: Provider, streaming: boolean): Promise<SessionOutcome> {
  const started = performance.now();
  const agent = driver.agents.pick(provider, streaming);
  // The crash point is part of the id, so the crashing journal needs no memory of its own.
  const sessionId = kind === 'crash' ? `ses_soakcrash_${number}_${2 + Math.floor(driver.random() * 5)}` : `ses_soak_${number}`;
  const controller = new AbortController();
  const problems: string[] = [];
  let result: SessionResult | null = null;
  try {
    result = await withWatchdog(driver, controller, drive(driver, kind, agent, taskFor(kind, number), sessionId, controller, problems));
  } catch (error) {
    problems.push(`threw ${isKeelError(error) ? error.code : 'error'}: ${error instanceof Error ? error.message : String(error)}`);
  }
  let retries = 0;
  try {
    const events = await driver.keel.events(sessionId);
    retries = events.reduce((sum, event) => sum + (event.type === 'model-response' || event.type === 'model-error' ? event.retries : 0), 0);
    problems.push(...checkSession(kind, number, events, result, driver.effects));
  } catch (error) {
    problems.push(`journal unreadable: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { kind, provider, streaming, sessionId, ok: problems.length === 0, problems, retries, durationMs: performance.now() - started };
}

function checkSession(kind: SessionKind, number: number, events: readonly SessionEvent[], result: SessionResult | null, effects: ToolEffects): string[] {
  const problems: string[] = [];
  const expected = expectations[kind];
  const validation = validateJournal(events);
  if (!validation.valid) problems.push(...validation.problems.map((problem) => `journal: ${problem}`));
  const end = events.at(-1);
  if (end?.type !== 'session-end') problems.push(`the journal ends with ${end?.type ?? 'nothing'}, not session-end`);
  else if (end.status !== expected.status) problems.push(`ended ${end.status} (${end.error?.code ?? 'no error'}: ${end.error?.message ?? ''}), expected ${expected.status}`);
  if (result !== null && result.status !== expected.status) problems.push(`the result says ${result.status}, expected ${expected.status}`);
  const toolErrors = events.filter((event) => event.type === 'tool-error');
  // A cancelled session may cut its slow tool short; elsewhere every tool error is one the script asked for.
  if (kind !== 'cancel' && toolErrors.length !== expected.toolErrors) {
    problems.push(`${toolErrors.length} tool errors, expected ${expected.toolErrors}: ${toolErrors.map((event) => (event.type === 'tool-error' ? `${event.tool} ${event.error.code}` : '')).join('; ')}`);
  }
  if (expected.status === 'completed' && end?.type === 'session-end' && !(end.output ?? '').includes(`(session ${number})`)) {
    problems.push(`the answer is not this session's: ${JSON.stringify(end.output).slice(0, 120)}`);
  }
  if (kind === 'report') {
    const report = events.find((event) => event.type === 'tool-result' && event.tool === 'fetch_report');
    const output = report?.type === 'tool-result' ? report.output : '';
    if (output.includes(reportEmail) || output.includes(reportSecret)) problems.push('the report reached the model unredacted');
    if (!output.includes('[REDACTED:')) problems.push('the report carries no redaction marker');
    if (!output.includes('[output truncated:') || output.length > reportMaxOutputChars + 400) problems.push(`the report was not capped (${output.length} characters)`);
  }
  if (kind === 'approval') {
    const request = events.find((event) => event.type === 'tool-request' && event.tool === 'issue_refund');
    const key = request?.type === 'tool-request' ? request.idempotencyKey : '';
    const runs = effects.refunds.get(key) ?? 0;
    effects.refunds.delete(key);
    if (runs !== 1) problems.push(`the approved refund ran ${runs} times`);
    if (!events.some((event) => event.type === 'tool-approval' && event.approved)) problems.push('no tool-approval event');
  }
  return problems;
}
