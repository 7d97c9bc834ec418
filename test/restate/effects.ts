import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Effects outside the service process, as a payment API with idempotency keys keeps them: every execution is logged
 * in attempts.log, and the effect is applied (effects.log) at most once per key.
 */
export function applyEffect(directory: string, key: string, line: string): void {
  mkdirSync(join(directory, 'applied'), { recursive: true });
  appendFileSync(join(directory, 'attempts.log'), `${key} ${line}\n`);
  try {
    closeSync(openSync(join(directory, 'applied', key.replace(/[^A-Za-z0-9_.-]/g, '_')), 'wx'));
    appendFileSync(join(directory, 'effects.log'), `${key} ${line}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** Blocks while `hold-<name>` exists in the directory: the test kills the processes meanwhile. */
export async function holdWhileMarked(directory: string, name: string): Promise<void> {
  while (existsSync(join(directory, `hold-${name}`))) await new Promise((resolve) => setTimeout(resolve, 20));
}

export function logLines(directory: string, file: string): string[] {
  const path = join(directory, file);
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
}
