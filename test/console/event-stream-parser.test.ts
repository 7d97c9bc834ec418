import { describe, expect, it } from 'vitest';
import { EventStreamParser } from '../../console/src/api/event-stream.ts';

describe('the console event-stream parser', () => {
  it('dispatches a message at a blank line, with its id, event name and data', () => {
    const parser = new EventStreamParser();
    expect(parser.push('id: 7\nevent: session-event\ndata: {"seq":7}\n\n')).toEqual([{ id: '7', event: 'session-event', data: '{"seq":7}' }]);
  });

  it('keeps a message split across chunks (also between \\r and \\n) until it is complete', () => {
    const parser = new EventStreamParser();
    expect(parser.push('id: 1\r')).toEqual([]);
    expect(parser.push('\nevent: end\r\ndata: {"status"')).toEqual([]);
    expect(parser.push(':"completed"}\r\n\r\n')).toEqual([{ id: '1', event: 'end', data: '{"status":"completed"}' }]);
  });

  it('skips comments (keep-alives), joins multi-line data, and names a message without an event "message"', () => {
    const parser = new EventStreamParser();
    expect(parser.push(': keep-alive\n\ndata: a\ndata: b\n\n')).toEqual([{ id: null, event: 'message', data: 'a\nb' }]);
  });

  it('keeps the last id for later messages, as EventSource does', () => {
    const parser = new EventStreamParser();
    const messages = parser.push('id: 3\ndata: x\n\ndata: y\n\n');
    expect(messages.map((message) => message.id)).toEqual(['3', '3']);
  });

  it('refuses to buffer a message without end rather than grow without bound', () => {
    const parser = new EventStreamParser();
    const chunk = `data: ${'x'.repeat(1024 * 1024)}`;
    expect(() => {
      for (let index = 0; index < 17; index += 1) parser.push(chunk);
    }).toThrow(/without ending a message/);
  });

  it('counts data lines of a message not yet ended against the same bound', () => {
    const parser = new EventStreamParser();
    const line = `data: ${'x'.repeat(1024 * 1024)}\n`;
    expect(() => {
      for (let index = 0; index < 17; index += 1) parser.push(line);
    }).toThrow(/without ending a message/);
  });
});
