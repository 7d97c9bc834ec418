import { describe, expect, it } from 'vitest';
import { parseToolArguments } from './tool-arguments.ts';

describe('parseToolArguments', () => {
  it('parses a JSON object and reads an empty string as no arguments', () => {
    expect(parseToolArguments('{"city":"Paris","days":[1,2]}')).toEqual({ input: { city: 'Paris', days: [1, 2] } });
    expect(parseToolArguments('  ')).toEqual({ input: {} });
  });

  it.each(['{"city": "Par', '{"city": Paris}', '[1,2]', '"Paris"', 'null', '42'])('keeps %s as malformed input instead of throwing', (text) => {
    expect(parseToolArguments(text)).toEqual({ input: {}, malformedInput: text });
  });
});
