// npm run build: compiles src/ to dist/ (JavaScript, declarations, source and declaration maps) with
// tsconfig.build.json, then copies the runtime files that are not TypeScript (the sandbox programs that workers and
// child processes load by path) next to the modules that load them, so dist/ runs on its own.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src');
const output = join(root, 'dist');
/** Files loaded at run time by path (new URL('./x.mjs', import.meta.url)) rather than imported. */
const runtimeExtensions = new Set(['.mjs', '.cjs', '.json']);

function filesUnder(folder) {
  return readdirSync(folder, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

rmSync(output, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error(`build: tsc failed (exit ${compiled.status ?? compiled.signal}); dist/ is incomplete.`);
  process.exit(1);
}
let copied = 0;
for (const file of filesUnder(source)) {
  if (!runtimeExtensions.has(extname(file))) continue;
  const target = join(output, relative(source, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied += 1;
}
console.log(`build: dist/ written (${copied} runtime files copied).`);
