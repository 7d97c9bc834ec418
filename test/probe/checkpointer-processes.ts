/** Helpers of the checkpointer probes: writer processes (checkpointer-writer.ts) and what their database must hold. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDatabase, createSqliteStore } from '../../src/store/index.ts';
import type { SqliteStoreOptions } from '../../src/store/index.ts';

const writerScript = join(import.meta.dirname, 'checkpointer-writer.ts');
const projectRoot = join(import.meta.dirname, '..', '..');

export interface WriterOptions extends Omit<SqliteStoreOptions, 'path'> {
  readonly sessions?: number;
  readonly payloadBytes?: number;
  readonly exitAfterAcks?: number;
}

export interface Writer {
  readonly child: ChildProcess;
  readonly recordPath: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
}

export function startWriter(path: string, recordPath: string, prefix: string, options: WriterOptions): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', writerScript, path, recordPath, prefix, JSON.stringify(options)], {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, recordPath, exited, stderr: () => stderr };
}

export function recordLines(recordPath: string): string[] {
  return existsSync(recordPath) ? readFileSync(recordPath, 'utf8').split('\n').filter((line) => line !== '') : [];
}

/** The highest acknowledged seq of each session the writer reported. */
export function acknowledgedHeads(recordPath: string): Map<string, number> {
  const heads = new Map<string, number>();
  for (const line of recordLines(recordPath)) {
    const [kind, sessionId, seq] = line.split(' ');
    if (kind === 'ACK' && sessionId !== undefined && seq !== undefined) heads.set(sessionId, Math.max(heads.get(sessionId) ?? 0, Number(seq)));
  }
  return heads;
}

/** Polls until `check` holds, or fails naming `what`: the worker and the children run on their own clocks. */
export async function eventually(check: () => boolean, what: string, deadlineMs = 60_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Still not: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function waitForAcks(writer: Writer, acks: number): Promise<void> {
  await eventually(() => {
    const lines = recordLines(writer.recordPath);
    const failure = lines.find((line) => line.startsWith('ERROR') || line.startsWith('FAILED'));
    if (failure !== undefined) throw new Error(`The writer reported: ${failure}\n${writer.stderr()}`);
    if (writer.child.exitCode !== null) throw new Error(`The writer exited early (${writer.child.exitCode}): ${writer.stderr()}`);
    return lines.includes('RUNNING') && lines.filter((line) => line.startsWith('ACK')).length >= acks;
  }, `${acks} acknowledged appends with the checkpointer running`);
}

/** What a reopened database says about the writers' sessions: problems found, one line each. */
export async function problemsAfterCrash(path: string, heads: ReadonlyMap<string, number>, options: Omit<SqliteStoreOptions, 'path'>): Promise<string[]> {
  const problems: string[] = [];
  const report = checkDatabase(path);
  if (!report.ok) problems.push(`checkDatabase: ${report.findings.map((finding) => finding.message).join('; ')}`);
  const store = createSqliteStore({ ...options, path, backgroundCheckpoints: false });
  try {
    for (const [sessionId, acknowledged] of heads) {
      const seqs: number[] = [];
      for await (const event of store.journal.read(sessionId)) {
        seqs.push(event.seq);
        if (event.type === 'tool-result' && !event.output.startsWith(`${sessionId}#${event.seq}:`)) problems.push(`${sessionId} seq ${event.seq} holds another event's output`);
      }
      if (seqs.some((seq, index) => seq !== index + 1)) problems.push(`${sessionId}: seqs not 1..n without gaps or duplicates`);
      if (seqs.length < acknowledged) problems.push(`${sessionId}: acknowledged up to ${acknowledged}, reopened with ${seqs.length}`);
    }
  } finally {
    await store.close();
  }
  return problems;
}
