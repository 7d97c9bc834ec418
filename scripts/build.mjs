// npm run build: compiles src/ to dist/ (JavaScript, declarations, source and declaration maps) with
// tsconfig.build.json, then copies the runtime files that are not TypeScript (the sandbox programs that workers and
// child processes load by path) next to the modules that load them, so dist/ runs on its own.
//
// tsc rewrites the source's `.ts` import specifiers to `.js` in the JavaScript it emits, but not in declarations.
// TypeScript 5 reads `./x.ts` in a .d.ts as `./x.d.ts`, older versions refuse it; so the declarations get the `.js`
// specifiers too. The replacement has the same length, so the declaration maps stay exact.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
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
/** A relative specifier ending in .ts, .mts or .cts after `from`, `import(` or a bare `import`. */
const relativeTypeScriptSpecifier = /(\b(?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"\n]*?)\.([mc]?)ts\2/g;
let declarations = 0;
for (const file of filesUnder(output)) {
  if (!file.endsWith('.d.ts')) continue;
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replace(relativeTypeScriptSpecifier, (_match, keyword, quote, path, kind) => `${keyword}${quote}${path}.${kind}js${quote}`);
  if (rewritten !== text) writeFileSync(file, rewritten);
  declarations += 1;
}

let copied = 0;
for (const file of filesUnder(source)) {
  if (!runtimeExtensions.has(extname(file))) continue;
  const target = join(output, relative(source, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied += 1;
}
console.log(`build: dist/ written (${declarations} declaration files, ${copied} runtime files copied).`);

// The web console (console/, React + Vite) into dist/console, which `keel serve` serves. Vite is a dev dependency:
// a package installed from the registry ships the built files and never runs this.
const { build: viteBuild } = await import('vite');
await viteBuild({ configFile: join(root, 'console', 'vite.config.ts') });
console.log('build: dist/console written (the web console).');
