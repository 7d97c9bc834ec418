/**
 * A child process for the checkpointer probes: appends to its sessions without a pause, through a SQLite store
 * whose write-ahead log is checkpointed by the background worker, and prints each acknowledged append
 * (`ACK <session> <seq>`) to a file with a synchronous write, so that what the parent reads was acknowledged before
 * it was written down. Writes `RUNNING` once the checkpointer runs. Killed by its parent; never closes the store.
 *
 * Usage: node --import tsx checkpointer-writer.ts <database path> <record file> <session prefix> <options as JSON>
 */
import { openSync, writeSync } from 'node:fs';
import { createSqliteStore } from '../../src/store/index.ts';
import type { SqliteStoreOptions } from '../../src/store/index.ts';
import { sessionStartBody, stampEvents, toolResultBody } from '../../src/testing/contracts/journal-samples.ts';

const [path, recordPath, prefix, optionsText] = process.argv.slice(2);
if (path === undefined || recordPath === undefined || prefix === undefined) throw new Error('usage: checkpointer-writer.ts <path> <record file> <prefix> [options]');
const record = openSync(recordPath, 'a');
const options = JSON.parse(optionsText ?? '{}') as Omit<SqliteStoreOptions, 'path'> & { sessions?: number; payloadBytes?: number; exitAfterAcks?: number };
const store = createSqliteStore({ ...options, path });
const sessions = options.sessions ?? 4;
const payload = 'x'.repeat(options.payloadBytes ?? 2_000);
/** Acknowledged appends since the checkpointer runs. */
let acks = 0;

function say(line: string): void {
  writeSync(record, `${line}\n`);
}

/** Output of the event at `seq`: the parent checks that each acknowledged event holds what was written (same format there). */
function outputOf(sessionId: string, seq: number, payloadText: string): string {
  return `${sessionId}#${seq}:${payloadText}`;
}

async function writeSession(sessionId: string): Promise<void> {
  let seq = await store.journal.append(sessionId, stampEvents(sessionId, [sessionStartBody()], 1), 0);
  say(`ACK ${sessionId} ${seq}`);
  for (;;) {
    const next = seq + 1;
    const events = stampEvents(sessionId, [toolResultBody(1, `call_${next}`, outputOf(sessionId, next, payload))], next);
    seq = await store.journal.append(sessionId, events, seq);
    say(`ACK ${sessionId} ${seq}`);
    // A session waits for its model between appends; without a turn of the event loop an append that settles at
    // once (group commit off) would starve the timers, the checkpointer's included.
    await new Promise((resolve) => setImmediate(resolve));
    if (store.checkpoints.state === 'running') acks += 1;
    if (options.exitAfterAcks !== undefined && acks >= options.exitAfterAcks) {
      say('EXITING');
      // Without closing the store: the unreferenced worker must not keep the process alive or hang its exit.
      process.exit(0);
    }
  }
}

const watch = setInterval(() => {
  if (store.checkpoints.state === 'running') {
    say('RUNNING');
    clearInterval(watch);
  }
  if (store.checkpoints.state === 'failed') say(`FAILED ${store.checkpoints.failure ?? ''}`);
}, 5);

await Promise.all(Array.from({ length: sessions }, (_, index) => writeSession(`ses_${prefix}${index}`))).catch((error: unknown) => {
  say(`ERROR ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
  process.exit(3);
});
