import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importUserModule } from '../../src/cli/load-agent.ts';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'keel-eval-import-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('loading an eval suite module', () => {
  it('names a suite that throws on import as an eval suite, with the thrown message, as invalid-config', async () => {
    writeFileSync(join(folder, 'bad-suite.mjs'), "throw new Error('boom at import');\n");
    await expect(importUserModule('bad-suite.mjs', folder, 'eval suite')).rejects.toMatchObject({
      code: 'invalid-config',
      message: expect.stringMatching(new RegExp(`^Could not load eval suite ${join(folder, 'bad-suite.mjs').replaceAll('.', '\\.')}: .*boom at import`)),
    });
  });

  it('names a missing suite file as a missing eval suite, and keeps "agent module" for agents', async () => {
    await expect(importUserModule('nope.mjs', folder, 'eval suite')).rejects.toMatchObject({ code: 'invalid-argument', message: `Eval suite not found: ${join(folder, 'nope.mjs')}.` });
    await expect(importUserModule('nope.mjs', folder)).rejects.toMatchObject({ code: 'invalid-argument', message: `Agent module not found: ${join(folder, 'nope.mjs')}.` });
  });
});
