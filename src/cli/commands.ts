import { KeelError } from '../errors/index.ts';
import { createKeel } from '../runtime/index.ts';
import { renderTraceTree } from '../tracing/index.ts';
import type { Keel } from '../runtime/index.ts';
import type { SessionResult, SessionRun } from '../loop/index.ts';
import { loadAgentModule } from './load-agent.ts';
import { createProgressPrinter } from './progress-printer.ts';
import { replayCommand } from './replay-command.ts';
import { diffCommand } from './diff-command.ts';
import { explainCommand } from './explain-command.ts';

export interface CommandOptions {
  readonly model: string | undefined;
  readonly database: string | undefined;
  readonly json: boolean;
  readonly limit: number | undefined;
  readonly approver: string | undefined;
  readonly input: string | undefined;
  readonly reason: string | undefined;
  readonly session: string | undefined;
  readonly turn: number | undefined;
  readonly system: string | undefined;
  readonly strategy: string | undefined;
  readonly all: boolean;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export async function runCommand(command: string, positionals: readonly string[], options: CommandOptions, usage: string): Promise<number> {
  const keel = createKeel(options.database === undefined ? {} : { database: options.database });
  try {
    switch (command) {
      case 'run':
        return await run(keel, positionals, options);
      case 'resume':
        return await resume(keel, positionals, options);
      case 'sessions':
        return await sessions(keel, options);
      case 'trace':
        return await trace(keel, positionals, options);
      case 'replay':
        return await replayCommand(keel, positionals, { turn: options.turn, model: options.model, system: options.system, strategy: options.strategy, json: options.json }, out, err);
      case 'explain':
        return await explainCommand(keel, positionals, { json: options.json }, out);
      case 'diff':
        return await diffCommand(keel, positionals, { json: options.json, all: options.all }, out, err);
      case 'approve':
      case 'reject':
        return await decide(keel, command === 'approve', positionals, options);
      default:
        err(`keel: unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } finally {
    await keel.close();
  }
}

function requirePositional(positionals: readonly string[], index: number, what: string): string {
  const value = positionals[index];
  if (value === undefined) throw new KeelError('invalid-argument', `Missing ${what}.`);
  return value;
}

/** Ctrl-C cancels the session cleanly (a `session-end` with status cancelled); a second Ctrl-C exits at once. */
function cancelOnInterrupt(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onInterrupt = (): void => {
    if (controller.signal.aborted) process.exit(130);
    err('keel: cancelling the session (press Ctrl-C again to exit at once)…');
    controller.abort(new KeelError('cancelled', 'Cancelled from the terminal (SIGINT).'));
  };
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onInterrupt);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onInterrupt);
    },
  };
}

async function follow(session: SessionRun, options: CommandOptions): Promise<number> {
  const printer = createProgressPrinter(options.json ? err : out);
  for await (const update of session) printer(update);
  const result = await session.result;
  report(result, options);
  return result.status === 'completed' || result.status === 'awaiting-approval' ? 0 : 1;
}

function report(result: SessionResult, options: CommandOptions): void {
  if (options.json) {
    const summary: Record<string, unknown> = { sessionId: result.sessionId, status: result.status, turns: result.turns, usage: result.usage, costUsd: result.costUsd };
    if (result.status === 'awaiting-approval') summary.pendingApprovals = result.pendingApprovals;
    out(JSON.stringify(summary));
    return;
  }
  if (result.status === 'awaiting-approval') {
    out(`\nSession ${result.sessionId} is waiting for approval (it is saved; this process may exit):`);
    for (const pending of result.pendingApprovals) {
      out(`  ${pending.callId}  ${pending.tool} ${JSON.stringify(pending.input)}`);
      out(`    why: ${pending.reason} (rule ${pending.rule})`);
      out(`    keel approve ${result.sessionId} ${pending.callId}    |    keel reject ${result.sessionId} ${pending.callId} --reason "…"`);
    }
    return;
  }
  if (result.output !== null) out(`\n${result.output}`);
}

async function run(keel: Keel, positionals: readonly string[], options: CommandOptions): Promise<number> {
  const { agent, modulePath } = await loadAgentModule(requirePositional(positionals, 0, 'agent module (keel run <agent-module> [task])'), process.cwd());
  const task = positionals.length > 1 ? positionals.slice(1).join(' ') : undefined;
  const cancel = cancelOnInterrupt();
  try {
    const session = keel.run(agent, task, { agentModule: modulePath, signal: cancel.signal, ...(options.model === undefined ? {} : { model: options.model }) });
    return await follow(session, options);
  } finally {
    cancel.dispose();
  }
}

async function resume(keel: Keel, positionals: readonly string[], options: CommandOptions): Promise<number> {
  const sessionId = requirePositional(positionals, 0, 'session id (keel resume <sessionId>)');
  const agent = await agentOf(keel, sessionId);
  const cancel = cancelOnInterrupt();
  try {
    const session = await keel.resume(agent, sessionId, { signal: cancel.signal, ...(options.model === undefined ? {} : { model: options.model }) });
    return await follow(session, options);
  } finally {
    cancel.dispose();
  }
}

async function agentOf(keel: Keel, sessionId: string) {
  const events = await keel.events(sessionId);
  const start = events[0];
  if (start?.type !== 'session-start' || start.agent.module === undefined) {
    throw new KeelError('invalid-argument', `Session ${sessionId} was not started from an agent module, so the CLI cannot load its agent; use the API (keel.resume / keel.decide).`);
  }
  return (await loadAgentModule(start.agent.module, process.cwd())).agent;
}

async function decide(keel: Keel, approved: boolean, positionals: readonly string[], options: CommandOptions): Promise<number> {
  const verb = approved ? 'approve' : 'reject';
  const sessionId = requirePositional(positionals, 0, `session id (keel ${verb} <sessionId> <callId>)`);
  const callId = requirePositional(positionals, 1, `call id (keel ${verb} <sessionId> <callId>); \`keel trace ${sessionId}\` lists the calls`);
  if (!approved && (options.reason === undefined || options.reason.trim() === '')) {
    throw new KeelError('invalid-argument', 'A rejection needs --reason "…": the model is told why, so it can choose another approach.');
  }
  let editedInput: unknown;
  if (options.input !== undefined) {
    if (!approved) throw new KeelError('invalid-argument', '--input edits the arguments of an approved call; it makes no sense with reject.');
    try {
      editedInput = JSON.parse(options.input);
    } catch (error) {
      throw new KeelError('invalid-argument', `--input must be JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const agent = await agentOf(keel, sessionId);
  const approver = options.approver ?? process.env.USER ?? 'operator';
  const cancel = cancelOnInterrupt();
  try {
    const session = await keel.decide(agent, sessionId, callId, {
      approved,
      approver,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      ...(editedInput === undefined ? {} : { editedInput }),
    }, { signal: cancel.signal, ...(options.model === undefined ? {} : { model: options.model }) });
    return await follow(session, options);
  } finally {
    cancel.dispose();
  }
}

async function sessions(keel: Keel, options: CommandOptions): Promise<number> {
  const list = await keel.sessions({ limit: options.limit ?? 20 });
  if (options.json) {
    out(JSON.stringify(list));
    return 0;
  }
  if (list.length === 0) {
    out(`No sessions in ${keel.databasePath ?? 'this journal'}.`);
    return 0;
  }
  for (const session of list) {
    out(`${session.sessionId}  ${new Date(session.startedAt).toISOString()}  ${(session.status ?? 'open').padEnd(9)}  events=${session.lastSeq}  ${session.agent}`);
  }
  return 0;
}

async function trace(keel: Keel, positionals: readonly string[], options: CommandOptions): Promise<number> {
  const tree = await keel.trace(requirePositional(positionals, 0, 'session id (keel trace <sessionId>)'));
  out(options.json ? JSON.stringify(tree, null, 2) : renderTraceTree(tree));
  return 0;
}
