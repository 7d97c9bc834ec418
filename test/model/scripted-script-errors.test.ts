import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readScriptFile } from '../../src/model/scripted-script.ts';

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'keel-script-errors-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('a model script that is not JSON', () => {
  it('is refused as invalid-config naming the file, without quoting what the file holds', async () => {
    const filePath = join(directory, 'passwd');
    await writeFile(filePath, 'root:x:0:0:root:/root:/bin/bash\n');
    let thrown: unknown;
    try {
      readScriptFile(filePath);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: 'invalid-config', message: expect.stringContaining(`The model script ${filePath} is not valid JSON`) });
    expect((thrown as Error).message).not.toContain('root:x');
    expect((thrown as Error).cause).toBeUndefined();
  });
});
