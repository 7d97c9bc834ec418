// Journal appends on PostgreSQL beside SQLite, in one run: each session appends `turns` batches of 3 events
// (turn-start, model-response, tool-result sized), `concurrency` sessions at a time.
//   npx tsx bench/postgres-journal.ts [--sessions 200] [--turns 10] [--concurrency 16] [--durable]
// The PostgreSQL cluster is a throwaway one started on 127.0.0.1 (the test kit's); without --durable it runs with
// fsync off, as the tests do, so the figures show Keel's and the protocol's cost rather than the disk's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { createSqliteStore } from '../src/store/index.ts';
import type { Journal } from '../src/spec/journal.ts';
import { stampEvents, sessionStartBody, toolResultBody, turnStartBody } from '../src/testing/contracts/journal-samples.ts';
import { startPostgresServer } from '../src/testing/postgres-server.ts';

const { values } = parseArgs({
  options: { sessions: { type: 'string', default: '200' }, turns: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '16' }, durable: { type: 'boolean', default: false } },
});
const sessions = Number(values.sessions);
const turns = Number(values.turns);
const concurrency = Number(values.concurrency);

interface Figures {
  readonly appends: number;
  readonly seconds: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function measure(journal: Journal, prefix: string): Promise<Figures> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  async function runSession(index: number): Promise<void> {
    const sessionId = `${prefix}_${index}`;
    let seq = 0;
    const append = async (bodies: Parameters<typeof stampEvents>[1]): Promise<void> => {
      const events = stampEvents(sessionId, bodies, seq + 1);
      const begin = performance.now();
      seq = await journal.append(sessionId, events, seq);
      latencies.push(performance.now() - begin);
    };
    await append([sessionStartBody()]);
    for (let turn = 1; turn <= turns; turn += 1) await append([turnStartBody(turn), toolResultBody(turn, `call_${turn}`, 'x'.repeat(800)), turnStartBody(turn)]);
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < sessions) await runSession(next++);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((left, right) => left - right);
  const at = (quantile: number): number => latencies[Math.min(latencies.length - 1, Math.floor(quantile * latencies.length))]!;
  return { appends: latencies.length, seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

function print(name: string, figures: Figures): void {
  console.log(`${name.padEnd(34)} ${String(figures.appends).padStart(6)} appends  ${(figures.appends / figures.seconds).toFixed(0).padStart(6)}/s  p50 ${figures.p50Ms.toFixed(2)} ms  p99 ${figures.p99Ms.toFixed(2)} ms`);
}

const durableSettings = { fsync: 'on', synchronous_commit: 'on', full_page_writes: 'on' };
const server = await startPostgresServer(values.durable ? { settings: durableSettings } : {});
const folder = mkdtempSync(join(tmpdir(), 'keel-bench-journal-'));
try {
  console.log(`${sessions} sessions × ${1 + turns} appends, ${concurrency} at a time; PostgreSQL ${values.durable ? 'durable (fsync on)' : 'fsync off'}`);
  const sqlite = createSqliteStore({ path: join(folder, 'keel.db'), encryption: false });
  print('SQLite (WAL, synchronous=NORMAL)', await measure(sqlite.journal, 'sqlite'));
  await sqlite.close();
  const postgres = createPostgresStore({ url: server.url, maxConnections: Math.min(concurrency, 20), encryption: false });
  await postgres.journal.lastSeq('warm-up');
  print(`PostgreSQL (pool of ${Math.min(concurrency, 20)})`, await measure(postgres.journal, 'postgres'));
  await postgres.close();
} finally {
  await server.stop();
  rmSync(folder, { recursive: true, force: true });
}
