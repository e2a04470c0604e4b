import { describe, expect, it } from 'vitest';
import { SseParser } from './sse-parser.js';

describe('SseParser', () => {
  it('parses events with id, type and data', () => {
    const parser = new SseParser();
    expect(parser.push('id: 7\nevent: added\ndata: {"a":1}\n\n')).toEqual([{ id: '7', event: 'added', data: '{"a":1}' }]);
  });

  it('joins events split across chunks anywhere, even inside a CRLF', () => {
    const parser = new SseParser();
    const text = 'id: 1\r\nevent: a\r\ndata: x\r\n\r\nid: 2\r\ndata: y\r\n\r\n';
    const events = [...text].flatMap((char) => parser.push(char));
    expect(events).toEqual([
      { id: '1', event: 'a', data: 'x' },
      { id: '2', event: 'message', data: 'y' },
    ]);
  });

  it('skips comments and retry lines, and joins multi-line data', () => {
    const parser = new SseParser();
    expect(parser.push(': keep-alive\n\nretry: 1000\n\ndata: one\ndata: two\n\n')).toEqual([{ event: 'message', data: 'one\ntwo' }]);
  });

  it('keeps the last id for later events without one, as the spec says', () => {
    const parser = new SseParser();
    expect(parser.push('id: 5\ndata: a\n\ndata: b\n\n').map((e) => e.id)).toEqual(['5', '5']);
  });

  it('waits for the blank line before dispatching', () => {
    const parser = new SseParser();
    expect(parser.push('event: added\ndata: {}\n')).toEqual([]);
    expect(parser.push('\n')).toEqual([{ event: 'added', data: '{}' }]);
  });
});
