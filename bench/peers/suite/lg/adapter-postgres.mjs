// LangGraph's ReAct agent with PostgresSaver (@langchain/langgraph-checkpoint-postgres 1.0.5, pinned in
// package.json beside this file): durable checkpoints in the PostgreSQL that KEEL_PEER_POSTGRES_URL names, each run
// in a schema of its own. The peer figure of the scale-out benchmark (bench/scale-out.ts), which starts the server.
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
import { makeRunSession } from './common.mjs';
export { versions } from './common.mjs';

export const name = 'langgraph+PostgresSaver';
const schema = `lg_${process.pid}`;
let saver;

export async function setup() {
  const url = process.env.KEEL_PEER_POSTGRES_URL;
  if (url === undefined || url === '') throw new Error('KEEL_PEER_POSTGRES_URL must name the PostgreSQL database for the checkpoints (postgres://user@host:port/db).');
  saver = PostgresSaver.fromConnString(url, { schema });
  await saver.setup();
}

export const runSession = makeRunSession(() => saver);

export async function teardown() {
  if (saver === undefined) return;
  const { rows } = await saver.pool.query(`select count(*)::int as count from ${schema}.checkpoints`);
  console.error(`postgres checkpoints=${rows[0].count} schema=${schema}`);
  await saver.pool.query(`drop schema ${schema} cascade`);
  await saver.end();
}
