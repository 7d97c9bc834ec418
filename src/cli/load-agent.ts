import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KeelError } from '../errors/index.ts';
import { isAgentDefinition } from '../loop/index.ts';
import type { AgentDefinition } from '../loop/index.ts';

/** Loads a module whose default export is `defineAgent({...})`; TypeScript modules load through tsx. */
export async function loadAgentModule(path: string, cwd: string): Promise<{ agent: AgentDefinition; modulePath: string }> {
  const modulePath = resolve(cwd, path);
  if (!existsSync(modulePath)) throw new KeelError('invalid-argument', `Agent module not found: ${modulePath}.`);
  let loaded: { default?: unknown };
  try {
    loaded = (await import(pathToFileURL(modulePath).href)) as { default?: unknown };
  } catch (error) {
    throw new KeelError('invalid-config', `Could not load agent module ${modulePath}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (!isAgentDefinition(loaded.default)) {
    throw new KeelError('invalid-config', `${modulePath} must default-export an agent: \`export default defineAgent({ name, instructions, tools })\`.`);
  }
  return { agent: loaded.default, modulePath };
}
