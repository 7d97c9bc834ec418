import { appendFileSync, closeSync, existsSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { KeelError } from '../errors/index.ts';
import type { AuditHead } from './audit-log.ts';

/**
 * Audit head checkpoints kept outside the database: one JSON line `{seq, hash, at}` per checkpoint, appended to a
 * file that someone who can rewrite the database need not be able to write (put it on another mount, or ship it
 * off the host). Verification checks that every checkpointed record is still in the chain with the same hash, so
 * a truncated tail, a wiped table or a re-hashed chain is found even though the head row moved with it.
 */
export interface AuditCheckpoint extends AuditHead {
  /** Epoch milliseconds when the checkpoint was written. */
  readonly at: number;
}

/** The default place: beside the database, `<database>.audit-heads`. */
export function defaultCheckpointPath(databasePath: string): string {
  return `${databasePath}.audit-heads`;
}

export function appendCheckpoint(path: string, checkpoint: AuditCheckpoint): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  else assertRegularFile(path);
  appendFileSync(path, `${JSON.stringify({ seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at })}\n`, { mode: 0o600 });
}

/** Every checkpoint in the file, in order; an unreadable line is an error naming it (the file was edited). */
export function readCheckpoints(path: string): AuditCheckpoint[] {
  if (!existsSync(path)) return [];
  assertRegularFile(path);
  const lines = readFileSync(path, 'utf8').split('\n');
  const checkpoints: AuditCheckpoint[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const parsed = parseLine(line);
    if (parsed === undefined) {
      throw new KeelError('audit-tampered', `Line ${index + 1} of the audit checkpoint file ${path} is not a checkpoint ({"seq","hash","at"}); the file was edited.`, {
        details: { path, line: index + 1 },
      });
    }
    checkpoints.push(parsed);
  }
  return checkpoints;
}

function parseLine(line: string): AuditCheckpoint | undefined {
  try {
    const value = JSON.parse(line) as Partial<AuditCheckpoint>;
    if (Number.isInteger(value.seq) && typeof value.hash === 'string' && /^[0-9a-f]{64}$/.test(value.hash) && typeof value.at === 'number') {
      return { seq: value.seq!, hash: value.hash, at: value.at };
    }
  } catch {
    // Reported by the caller with the line number.
  }
  return undefined;
}

/** A FIFO, device or link in the file's place would hang a read or redirect a write: it is refused, not opened. */
function assertRegularFile(path: string): void {
  const stat = lstatSync(path);
  if (!stat.isFile()) {
    throw new KeelError('audit-tampered', `The audit checkpoint file ${path} is not a regular file (someone replaced it); remove it or restore it from where checkpoints are kept.`, { details: { path } });
  }
}
