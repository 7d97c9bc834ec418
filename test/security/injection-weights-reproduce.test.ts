import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/*
 * The committed classifier weights are reproduced byte for byte from the training split. The dataset is not part of
 * the repository and training takes a minute or more, so this runs only when KEEL_INJECTION_DATA names the dataset
 * folder (with train/); otherwise it is skipped, and training determinism is still covered by
 * injection-detector.test.ts on a small corpus.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const data = process.env.KEEL_INJECTION_DATA;
const available = data !== undefined && existsSync(join(data, 'train'));

describe.skipIf(!available)('committed injection classifier weights (needs KEEL_INJECTION_DATA naming the dataset)', () => {
  it('are reproduced byte for byte by scripts/train-injection-detector.ts --check', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'train-injection-detector.ts'), '--data', data!, '--check'], { cwd: root, encoding: 'utf8', timeout: 600_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('reproduced byte for byte');
  }, 600_000);
});
