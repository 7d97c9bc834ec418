// Keel on the benchmark workload. The agent is built once per process; the Keel instance once per process in
// setup(), since the model's base URL is known only then. Every session is a fresh `keel.run`.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { createOpenAIModel } from '../../src/model/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { keelVersion, packageVersion } from '../lib/versions.ts';
import type { BenchAdapter } from './types.ts';
import { apiKey, checkOutcome, lookupValue, maxTurns, modelId, systemPrompt, userTask } from './workload.ts';

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

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
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
      const result = await keel.run(agent, userTask).result;
      if (result.status !== 'completed') {
        throw new Error(`${name}: session ${result.sessionId} ended ${result.status}: ${result.error === null ? 'no error recorded' : `${result.error.code}: ${result.error.message}`}`);
      }
      checkOutcome(name, result.turns, result.output);
      sessions += 1;
    },

    report(): Record<string, number> {
      if (databasePath === undefined || sessions === 0) return {};
      const bytes = fileSize(databasePath) + fileSize(`${databasePath}-wal`);
      return { journalBytes: bytes, journalKBPerSession: bytes / 1024 / sessions };
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
