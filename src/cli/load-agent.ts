import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { KeelError } from '../errors/index.ts';
import { isAgentDefinition } from '../loop/index.ts';
import type { AgentDefinition } from '../loop/index.ts';

const typeScriptExtensions = new Set(['.ts', '.mts', '.cts', '.tsx']);

/**
 * Loads a module whose default export is `defineAgent({...})`. JavaScript modules are imported as they are.
 * TypeScript modules use Node's built-in type stripping where the running Node has it (22.18 and later), and tsx
 * (an optional peer dependency) where it does not; tsx is imported here only, so importing Keel never loads it.
 */
export async function loadAgentModule(path: string, cwd: string): Promise<{ agent: AgentDefinition; modulePath: string }> {
  const { loaded, modulePath } = await importUserModule(path, cwd);
  const agent = defaultExport(loaded);
  if (!isAgentDefinition(agent)) {
    throw new KeelError('invalid-config', `${modulePath} must default-export an agent: \`export default defineAgent({ name, instructions, tools })\`.`);
  }
  return { agent, modulePath };
}

/**
 * Imports a user's module (JavaScript, or TypeScript as described above) and returns its namespace. `what` names
 * the module in errors ("agent module", "eval suite").
 */
export async function importUserModule(path: string, cwd: string, what = 'agent module'): Promise<{ loaded: Record<string, unknown>; modulePath: string }> {
  const modulePath = resolve(cwd, path);
  if (!existsSync(modulePath)) throw new KeelError('invalid-argument', `${what.charAt(0).toUpperCase()}${what.slice(1)} not found: ${modulePath}.`);
  if (needsTypeScriptLoader(modulePath)) await registerTsx(modulePath);
  try {
    return { loaded: (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>, modulePath };
  } catch (error) {
    throw new KeelError('invalid-config', `Could not load ${what} ${modulePath}: ${describeLoadFailure(error, modulePath)}`, { cause: error });
  }
}

/**
 * The module's default export. A CommonJS module compiled from `export default` (tsc, tsx) arrives as
 * `{ default: module.exports }` with the agent on `module.exports.default`.
 */
function defaultExport(loaded: { default?: unknown }): unknown {
  if (isAgentDefinition(loaded.default)) return loaded.default;
  const inner = loaded.default as { default?: unknown } | null | undefined;
  return typeof inner === 'object' && inner !== null ? inner.default : loaded.default;
}

/** Whether this process cannot import TypeScript yet: Keel itself runs compiled and Node does not strip types. */
function needsTypeScriptLoader(modulePath: string): boolean {
  if (!typeScriptExtensions.has(extname(modulePath))) return false;
  // Keel running from its .ts sources (a checkout, under tsx) already has a TypeScript loader in place.
  if (import.meta.url.endsWith('.ts')) return false;
  return !nodeStripsTypes();
}

function nodeStripsTypes(): boolean {
  // process.features.typescript: 'strip' or 'transform' where type stripping is on (Node 22.18+, 23.6+), else false.
  const typescript = (process.features as { typescript?: unknown }).typescript;
  return typeof typescript === 'string' && typescript !== '';
}

let tsxRegistered: Promise<void> | undefined;

/**
 * Both of tsx's hooks: the ESM one, and the CommonJS one for a .ts file that Node treats as CommonJS (its
 * package.json has no "type": "module"); without it Node 20 reads that file as JavaScript and fails on a require cycle.
 */
function registerTsx(modulePath: string): Promise<void> {
  tsxRegistered ??= Promise.all([importTsx('tsx/cjs/api', modulePath), importTsx('tsx/esm/api', modulePath)]).then(([commonjs, esm]) => {
    commonjs.register();
    esm.register();
  });
  return tsxRegistered;
}

/** tsx from beside Keel (the usual install), else from the agent module's own project (Keel installed globally). */
async function importTsx(entry: string, modulePath: string): Promise<{ register: () => unknown }> {
  try {
    return (await import(entry)) as { register: () => unknown };
  } catch (nearKeel) {
    if (!isModuleNotFound(nearKeel)) throw nearKeel;
  }
  try {
    return (await import(pathToFileURL(createRequire(modulePath).resolve(entry)).href)) as { register: () => unknown };
  } catch (nearAgent) {
    if (!isModuleNotFound(nearAgent)) throw nearAgent;
    throw new KeelError(
      'invalid-config',
      `${modulePath} is TypeScript, and Node ${process.versions.node} cannot load TypeScript by itself (Node 22.18 and later strip types natively). Install tsx in your project (npm install --save-dev tsx), or use Node 22.18 or later, or compile the agent to JavaScript.`,
      { cause: nearAgent },
    );
  }
}

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/** The failure with its stack (where in the agent's code it threw) and, for the usual setup mistakes, what to do. */
function describeLoadFailure(error: unknown, modulePath: string): string {
  const shown = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  const hint = hintFor(error, modulePath);
  return hint === undefined ? shown : `${shown}\n\n${hint}`;
}

function hintFor(error: unknown, modulePath: string): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ERR_REQUIRE_CYCLE_MODULE' || code === 'ERR_REQUIRE_ASYNC_MODULE' || code === 'ERR_REQUIRE_ESM') {
    return `The agent module was loaded as CommonJS, which the nearest package.json decides (it has no "type": "module"). Add "type": "module" to the package.json that governs ${dirname(modulePath)}, or name the module with .mjs or .mts.`;
  }
  if (code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
    return 'Node strips types but does not transform TypeScript-only syntax (enums, namespaces, parameter properties). Rewrite those parts with plain types, or compile the agent to JavaScript.';
  }
  if (code === 'ERR_MODULE_NOT_FOUND' && nodeStripsTypes() && missingJsBesideTs(error)) {
    return "Node's built-in TypeScript support imports files by their real name: write './tools.ts', not './tools.js' (with \"allowImportingTsExtensions\" or \"rewriteRelativeImportExtensions\" in tsconfig.json).";
  }
  return undefined;
}

/** A `./x.js` import that names a file which exists only as `./x.ts`: the NodeNext habit that type stripping refuses. */
function missingJsBesideTs(error: unknown): boolean {
  const url = (error as { url?: unknown }).url;
  if (typeof url !== 'string' || !url.startsWith('file:') || !url.endsWith('.js')) return false;
  return existsSync(fileURLToPath(`${url.slice(0, -'.js'.length)}.ts`));
}
