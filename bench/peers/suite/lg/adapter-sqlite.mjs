// LangGraph's ReAct agent with SqliteSaver on a file: durable checkpoints through better-sqlite3, default pragmas.
import { rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SqliteSaver } from '@langchain/langgraph-checkpoint-sqlite';
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'langgraph+SqliteSaver(file)';
const file = fileURLToPath(new URL(`./checkpoints-${process.pid}.sqlite`, import.meta.url));
let saver;
export const runSession = makeRunSession(() => (saver = SqliteSaver.fromConnString(file)));

export async function teardown() {
  if (saver === undefined) return;
  const checkpoints = saver.db.prepare('select count(*) as count from checkpoints').get().count;
  console.error(`sqlite checkpoints=${checkpoints} journal_mode=${saver.db.pragma('journal_mode', { simple: true })} synchronous=${saver.db.pragma('synchronous', { simple: true })} size=${statSync(file).size}`);
  saver.db.close();
  for (const path of [file, `${file}-wal`, `${file}-shm`]) rmSync(path, { force: true });
}
