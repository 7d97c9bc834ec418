import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDatabase } from '../../src/store/index.ts';
import { acknowledgedHeads, problemsAfterCrash, recordLines, startWriter, waitForAcks } from './checkpointer-processes.ts';
import type { Writer, WriterOptions } from './checkpointer-processes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-checkpointer-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The worker checkpoints all the time: every 10 ms, and RESTART whenever the log passes 1 MiB (a few hundred appends).
const busyCheckpoints = { intervalMs: 10, walLimitBytes: 1024 * 1024 };
const key = 'a'.repeat(64);

const variants: readonly (readonly [string, WriterOptions])[] = [
  ['defaults', { backgroundCheckpoints: busyCheckpoints }],
  ["synchronous 'full'", { backgroundCheckpoints: busyCheckpoints, synchronous: 'full' }],
  ['encryption on', { backgroundCheckpoints: busyCheckpoints, encryption: { key } }],
  ['group commit off', { backgroundCheckpoints: busyCheckpoints, groupCommit: false }],
];

async function kill(writer: Writer): Promise<void> {
  writer.child.kill('SIGKILL');
  const exit = await writer.exited;
  expect(exit.signal).toBe('SIGKILL');
}

describe('a writer process killed (SIGKILL) while its checkpoint worker copies the log under continuous appends', () => {
  it.each(variants)('keeps every acknowledged append, once, with a valid hash chain (%s)', async (name, options) => {
    const path = join(scratch, `${name.replace(/\W/g, '-')}.db`);
    // Two crashes in a row on the same file, after different amounts of work.
    for (const [round, acks] of [[0, 150], [1, 600]] as const) {
      const recordPath = join(scratch, `${name.replace(/\W/g, '-')}-${round}.acks`);
      const writer = startWriter(path, recordPath, `r${round}_`, options);
      await waitForAcks(writer, acks);
      await kill(writer);
      const heads = acknowledgedHeads(recordPath);
      expect(heads.size).toBeGreaterThan(0);
      const encryption = options.encryption === undefined ? {} : { encryption: options.encryption };
      expect(await problemsAfterCrash(path, heads, encryption)).toEqual([]);
    }
  }, 120_000);

  it('two writer processes on one file, each with its own checkpointer, a third process reading, then both killed: nothing acknowledged is lost', async () => {
    const path = join(scratch, 'two-writers.db');
    const first = startWriter(path, join(scratch, 'two-first.acks'), 'p_', { backgroundCheckpoints: busyCheckpoints, sessions: 3 });
    const second = startWriter(path, join(scratch, 'two-second.acks'), 'q_', { backgroundCheckpoints: busyCheckpoints, sessions: 3 });
    await waitForAcks(first, 200);
    await waitForAcks(second, 200);
    // This process reads while both write and checkpoint: each read transaction sees one consistent snapshot
    // (checkDatabase alone reads in several transactions: see checkpointer-live-check.test.ts).
    const reader = new Database(path, { readonly: true });
    try {
      for (let round = 0; round < 5; round += 1) {
        const report = reader.transaction(() => checkDatabase(reader))();
        expect(report.findings.filter((finding) => finding.severity === 'error')).toEqual([]);
        expect(report.sessions).toBe(6);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      reader.close();
    }
    await kill(first);
    await waitForAcks(second, recordLines(second.recordPath).length + 100);
    await kill(second);
    const heads = new Map([...acknowledgedHeads(first.recordPath), ...acknowledgedHeads(second.recordPath)]);
    expect(heads.size).toBe(6);
    expect(await problemsAfterCrash(path, heads, {})).toEqual([]);
  }, 120_000);

  it('a process that exits without closing its store, its worker running, exits (the worker does not hold it)', async () => {
    const path = join(scratch, 'exit-without-close.db');
    const recordPath = join(scratch, 'exit-without-close.acks');
    const writer = startWriter(path, recordPath, 'e_', { backgroundCheckpoints: busyCheckpoints, exitAfterAcks: 600 });
    // A hang would time this out: the deadline is generous, not a measure.
    const exit = await Promise.race([writer.exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 60_000))]);
    if (exit === 'hung') writer.child.kill('SIGKILL');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(recordLines(recordPath)).toContain('RUNNING');
    expect(await problemsAfterCrash(path, acknowledgedHeads(recordPath), {})).toEqual([]);
  }, 120_000);
});

