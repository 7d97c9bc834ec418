// postinstall: makes better-sqlite3 12 safe on Node 24.19 and newer 24.x.
//
// Node 24.19 changed node::ObjectWrap (nodejs/node#63642, backported without the cleanup-hook registry that
// makes it safe, nodejs/node#65446): an addon compiled against its <node_object_wrap.h> calls
// node::RemoveEnvironmentCleanupHook from every wrapper's destructor, and that CHECKs for an entered Node context,
// which V8's garbage collector does not have when it runs weak callbacks. better-sqlite3 12 wraps Database,
// Statement, StatementIterator and Backup in node::ObjectWrap, so the first such object the collector frees aborts
// the process ("Assertion failed: (env) != nullptr", exit code 134), at exit or in mid-run. better-sqlite3 13 does
// not use ObjectWrap, but it needs Node 22, and Keel supports Node 20.
//
// An affected binary imports node::RemoveEnvironmentCleanupHook (better-sqlite3's own code never calls it). When
// this finds one, it recompiles better-sqlite3 with scripts/node-object-wrap-compat.h force-included: the
// ObjectWrap of Node 20, 22 and 24.0-24.18, which the collector can free. Anywhere else it does nothing.
// KEEL_SKIP_SQLITE_REBUILD=1 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const marker = 'RemoveEnvironmentCleanupHook';
const here = dirname(fileURLToPath(import.meta.url));
const shim = join(here, 'node-object-wrap-compat.h');

function binaryOf(packageDir) {
  for (const build of ['Release', 'Debug']) {
    const file = join(packageDir, 'build', build, 'better_sqlite3.node');
    if (existsSync(file)) return file;
  }
  return undefined;
}

const affected = (file) => readFileSync(file).includes(marker);

function main() {
  if (process.env.KEEL_SKIP_SQLITE_REBUILD === '1') return 0;
  let packageDir;
  try {
    packageDir = dirname(createRequire(join(here, '..', 'package.json')).resolve('better-sqlite3/package.json'));
  } catch {
    return 0; // not installed (yet): nothing to fix
  }
  const binary = binaryOf(packageDir);
  if (binary === undefined || !affected(binary)) return 0;

  console.log(`keel: ${binary} was compiled with Node ${process.versions.node}'s node::ObjectWrap, which aborts the process when the garbage collector frees a statement (nodejs/node#65446); recompiling it with the previous ObjectWrap.`);
  if (process.platform === 'win32') {
    console.error('keel: cannot recompile better-sqlite3 automatically on Windows; use Node 22, or Node 24.18 or older.');
    return 1;
  }
  const include = shim.includes(' ') ? `-include "${shim}"` : `-include ${shim}`;
  const env = { ...process.env, CXXFLAGS: [process.env.CXXFLAGS, include].filter(Boolean).join(' ') };
  // npm gives lifecycle scripts the path of its own node-gyp; run by hand, `npm rebuild` finds it.
  const nodeGyp = process.env.npm_config_node_gyp;
  const result = nodeGyp
    ? spawnSync(process.execPath, [nodeGyp, 'rebuild', '--release'], { cwd: packageDir, env, stdio: 'inherit' })
    : spawnSync('npm', ['rebuild', 'better-sqlite3', '--build-from-source'], { cwd: join(here, '..'), env, stdio: 'inherit' });
  const rebuilt = binaryOf(packageDir);
  if (result.status !== 0 || rebuilt === undefined || affected(rebuilt)) {
    console.error('keel: recompiling better-sqlite3 failed (it needs python3, make and a C++ compiler). On this Node every garbage-collected statement aborts the process; use Node 22, or Node 24.18 or older.');
    return 1;
  }
  console.log('keel: better-sqlite3 recompiled; garbage-collected statements are safe on this Node.');
  return 0;
}

process.exitCode = main();
