import { describe, expect, it } from 'vitest';
import { readBlocks, readLines } from '../../src/cli/scan-lines.ts';
import { scanJsonLine } from '../../src/cli/scan-command.ts';
import { createInjectionDetector } from '../../src/security/injection/index.ts';

async function* chunks(...parts: (string | Buffer)[]): AsyncGenerator<Buffer | string> {
  for (const part of parts) yield part;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

describe('readLines', () => {
  it('splits across chunk boundaries, strips CR, keeps empty lines and has no phantom last line', async () => {
    const lines = await collect(readLines(chunks('a\r\nb', 'c\n\n', 'd\n'), 100));
    expect(lines.map((line) => line.text)).toEqual(['a', 'bc', '', 'd']);
  });

  it('reports a line over the limit as overflow without buffering it, and goes on with the next', async () => {
    const lines = await collect(readLines(chunks('x'.repeat(60), 'x'.repeat(60), '\nok\n'), 100));
    expect(lines).toEqual([{ text: '', overflow: true }, { text: 'ok', overflow: false }]);
  });

  it('never splits a multi-byte character cut between chunks', async () => {
    const bytes = Buffer.from('héllo\n', 'utf8');
    const lines = await collect(readLines(chunks(bytes.subarray(0, 2), bytes.subarray(2)), 100));
    expect(lines[0]!.text).toBe('héllo');
  });
});

describe('readBlocks', () => {
  it('cuts after a newline near the block end and counts offsets in UTF-16 units', async () => {
    const blocks = await collect(readBlocks(chunks('aaaaaaaa\nbbbbbbbbbbbbb', '😀cc'), 10));
    expect(blocks.map((block) => block.text).join('')).toBe('aaaaaaaa\nbbbbbbbbbbbbb😀cc');
    let offset = 0;
    for (const block of blocks) {
      expect(block.offset).toBe(offset);
      offset += block.text.length;
    }
    expect(blocks[0]!.text).toBe('aaaaaaaa\n');
    for (const block of blocks) expect(block.text.charCodeAt(block.text.length - 1) >= 0xd800 && block.text.charCodeAt(block.text.length - 1) <= 0xdbff).toBe(false);
  });
});

describe('scanJsonLine', () => {
  const detector = createInjectionDetector();
  it('reads the id of a broken line when it can', () => {
    expect(JSON.parse(scanJsonLine('{"id": "k\\"1", "text": ', detector))).toMatchObject({ id: 'k"1' });
    expect(JSON.parse(scanJsonLine('{"text": "no id"}', detector))).toEqual({ error: '"id" must be a string' });
  });
});
