// Node 24.19+ with a better-sqlite3 12 binary compiled against its node::ObjectWrap aborts the whole process
// ("Assertion failed: (env) != nullptr", exit 134) when the garbage collector frees a Statement, Database or
// iterator (nodejs/node#65446). scripts/rebuild-better-sqlite3.mjs (postinstall) recompiles such a binary; this
// checks, in a child process of the same Node, that freeing every kind of wrapper is safe on this install.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');

const program = `
const Database = require(${JSON.stringify(betterSqlite3)});
const db = new Database(':memory:');
db.exec('CREATE TABLE t (x)');
for (let i = 0; i < 200; i++) db.prepare('INSERT INTO t VALUES (?)').run(i);
for (let i = 0; i < 50; i++) for (const row of db.prepare('SELECT x FROM t LIMIT 2').iterate()) void row;
db.pragma('foreign_keys = ON');
db.transaction(() => db.prepare('DELETE FROM t WHERE x < 10').run())();
(() => { const other = new Database(':memory:'); other.prepare('SELECT 1').get(); other.close(); })();
db.close();
// Allocation-triggered collections are the ones that abort: V8 runs their weak callbacks with no context entered.
let garbage = [];
for (let i = 0; i < 300000; i++) garbage.push({ i, text: 'row ' + i });
garbage = null;
globalThis.gc();
console.log('collected');
`;

describe('better-sqlite3 on this Node', () => {
  it('survives the garbage collector freeing statements, iterators and databases', () => {
    const child = spawnSync(process.execPath, ['--expose-gc', '-e', program], { encoding: 'utf8', timeout: 60_000 });
    const diagnosis =
      child.status === 134 || child.signal === 'SIGABRT'
        ? `better-sqlite3 aborted in the garbage collector on Node ${process.versions.node}: run \`node scripts/rebuild-better-sqlite3.mjs\` (see its header).\n${child.stderr}`
        : child.stderr;
    expect({ status: child.status, signal: child.signal, stdout: child.stdout.trim() }, diagnosis).toEqual({ status: 0, signal: null, stdout: 'collected' });
  });
});
