import { describe, expect, it } from 'vitest';
import { KeelError } from '../errors/index.ts';
import { createSseDecoder } from './sse-decoder.ts';
import type { ServerSentEvent } from './sse-decoder.ts';

const decoder = (maxEventBytes = 1_000) => createSseDecoder({ maxEventBytes, streamName: 'The test stream' });

function decodeAll(chunks: readonly (string | Uint8Array)[], maxEventBytes?: number): ServerSentEvent[] {
  const sse = decoder(maxEventBytes);
  return chunks.flatMap((chunk) => sse.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk));
}

describe('createSseDecoder', () => {
  it('reads named events, joins data lines, skips comments and ignores other fields', () => {
    expect(decodeAll([': ping\n\nevent: message_start\ndata: {"a":1}\n\nid: 7\nretry: 10\ndata: one\ndata:two\n\n'])).toEqual([
      { event: 'message_start', data: '{"a":1}' },
      { event: null, data: 'one\ntwo' },
    ]);
  });

  it('gives the same events however the bytes are split, with LF, CRLF or CR line ends', () => {
    const text = 'event: a\r\ndata: x\r\n\r\nevent: b\rdata: y\r\rdata: z\n\n';
    const whole = decodeAll([text]);
    expect(whole).toEqual([
      { event: 'a', data: 'x' },
      { event: 'b', data: 'y' },
      { event: null, data: 'z' },
    ]);
    const bytes = Buffer.from(text);
    for (let cut = 1; cut < bytes.length; cut += 1) expect(decodeAll([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    expect(decodeAll([...bytes].map((byte) => Uint8Array.of(byte)))).toEqual(whole);
  });

  it('keeps multi-byte characters split across chunks and replaces invalid UTF-8 instead of failing', () => {
    const text = Buffer.from('data: "héllo ✓"\n\n');
    expect(decodeAll([text.subarray(0, 9), text.subarray(9)])).toEqual([{ event: null, data: '"héllo ✓"' }]);
    expect(decodeAll([Buffer.concat([Buffer.from('data: a'), Buffer.from([0xff, 0xfe]), Buffer.from('b\n\n')])])).toEqual([{ event: null, data: 'a\uFFFD\uFFFDb' }]);
  });

  it('drops an event the body ends in the middle of, as the SDKs do', () => {
    expect(decodeAll(['data: complete\n\ndata: half'])).toEqual([{ event: null, data: 'complete' }]);
  });

  it('refuses a line that never ends once it passes the cap, whatever the chunking', () => {
    const sse = decoder(100);
    for (let chunk = 0; chunk < 9; chunk += 1) expect(sse.push(Buffer.from('data: ' + 'x'.repeat(5)))).toEqual([]);
    let error: unknown;
    try {
      for (let chunk = 0; chunk < 10; chunk += 1) sse.push(Buffer.from('x'.repeat(20)));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ code: 'model-malformed-response', retryable: false, message: expect.stringMatching(/^The test stream sent a server-sent event larger than 100 bytes/) });
  });

  it('refuses an event of many short data lines past the cap', () => {
    expect(() => decodeAll(['data: 0123456789\n'.repeat(20)], 100)).toThrow(expect.objectContaining({ code: 'model-malformed-response' }));
    // The cap is per event: many events of the same total pass.
    expect(decodeAll(['data: 0123456789\n\n'.repeat(20)], 100)).toHaveLength(20);
  });

  it('scans a chunk of many lines with a single CR at its end in linear time', () => {
    const chunk = Buffer.from(`${'data: x\n\n'.repeat(50_000)}data: y\r`);
    expect(decodeAll([chunk, '\n\n'], 10)).toHaveLength(50_001);
  });
});
