// Keel on the benchmark workload. The agent is built once per process; the Keel instance once per process in
// setup(), since the model's base URL is known only then. Every session is a fresh `keel.run`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
// Through the public API only (src/index.ts is what the package exports), as a user of Keel would.
import { createKeel, createOpenAIModel, defineAgent, defineTool } from '../../src/index.ts';
import type { Keel } from '../../src/index.ts';
import { keelVersion, packageVersion } from '../lib/versions.ts';
import type { BenchAdapter } from './types.ts';
import { apiKey, checkOutcome, lookupValue, maxTurns, modelId, systemPrompt, taskFor } from './workload.ts';

export interface KeelAdapterOptions {
  readonly name: string;
  readonly description: string;
  /** `file`: a durable SQLite journal (WAL) in a fresh temporary folder; `memory`: the in-memory journal and blob store. */
  readonly journal: 'file' | 'memory';
  readonly streaming: boolean;
}

const lookup = defineTool({
  name: 'lookup',
  description: 'Look up a key',
  input: z.object({ key: z.string() }),
  risk: 'read',
  execute: ({ key }) => lookupValue(key),
});

/**
 * What the journal holds per session (warm-up sessions included): event rows, request blobs, and the file after
 * a checkpoint. Read through a second connection, after the measured phase.
 */
function journalFootprint(path: string, sessions: number): Record<string, number> {
  const database = new Database(path, { fileMustExist: true });
  try {
    database.pragma('wal_checkpoint(TRUNCATE)');
    const events = database.prepare<[], { count: number; bytes: number | null }>('SELECT count(*) AS count, sum(length(body)) AS bytes FROM events').get();
    const blobs = database.prepare<[], { count: number; bytes: number | null }>('SELECT count(*) AS count, sum(size) AS bytes FROM blobs').get();
    const pages = database.pragma('page_count', { simple: true }) as number;
    const pageSize = database.pragma('page_size', { simple: true }) as number;
    return {
      journalSessions: sessions,
      eventsPerSession: (events?.count ?? 0) / sessions,
      eventKBPerSession: (events?.bytes ?? 0) / 1024 / sessions,
      blobsPerSession: (blobs?.count ?? 0) / sessions,
      blobKBPerSession: (blobs?.bytes ?? 0) / 1024 / sessions,
      journalKBPerSession: (pages * pageSize) / 1024 / sessions,
    };
  } finally {
    database.close();
  }
}

export function createKeelAdapter(options: KeelAdapterOptions): BenchAdapter {
  const { name } = options;
  const agent = defineAgent({
    name: 'bench-lookup',
    instructions: systemPrompt,
    tools: [lookup],
    limits: { maxTurns },
    streaming: options.streaming,
  });
  let keel: Keel | undefined;
  let folder: string | undefined;
  let databasePath: string | undefined;
  let started = 0;
  let sessions = 0;

  return {
    name,
    description: options.description,
    streaming: options.streaming,

    setup(baseURL) {
      if (options.journal === 'file') {
        // KEEL_BENCH_DB_DIR puts the journal on another disk; by default it is the system's temporary folder.
        folder = mkdtempSync(join(process.env.KEEL_BENCH_DB_DIR ?? tmpdir(), 'keel-bench-'));
        databasePath = join(folder, 'journal.db');
      }
      keel = createKeel({
        database: databasePath ?? ':memory:',
        model: createOpenAIModel({ modelId, apiKey, baseURL }),
        env: {},
      });
    },

    async runSession() {
      if (keel === undefined) throw new Error(`${name}: setup() was not called.`);
      started += 1;
      const result = await keel.run(agent, taskFor(started)).result;
      if (result.status !== 'completed') {
        throw new Error(`${name}: session ${result.sessionId} ended ${result.status}: ${result.error === null ? 'no error recorded' : `${result.error.code}: ${result.error.message}`}`);
      }
      checkOutcome(name, result.turns, result.output);
      sessions += 1;
    },

    report(): Record<string, number> {
      if (databasePath === undefined || sessions === 0) return {};
      return journalFootprint(databasePath, sessions);
    },

    async teardown() {
      await keel?.close();
      keel = undefined;
      if (folder !== undefined) rmSync(folder, { recursive: true, force: true });
    },

    versions: () => ({
      node: process.version,
      keel: keelVersion(),
      openai: packageVersion('openai'),
      'better-sqlite3': packageVersion('better-sqlite3'),
      zod: packageVersion('zod'),
    }),
  };
}
