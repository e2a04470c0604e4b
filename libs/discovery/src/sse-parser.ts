/** One Server-Sent Event as the WHATWG spec defines it. */
export interface ServerSentEvent {
  /** `id:` field, if the event had one. */
  id?: string;
  /** `event:` field; `message` when absent. */
  event: string;
  /** `data:` lines joined with `\n`. */
  data: string;
}

/**
 * Incremental `text/event-stream` parser: feed it text as it arrives (chunks may split lines or
 * events anywhere) and it returns every event completed so far. Comments (`: keep-alive`) and
 * `retry:` lines are skipped; an event without data is not dispatched (per the spec).
 */
export class SseParser {
  private buffer = '';
  private id: string | undefined;
  private event: string | undefined;
  private data: string[] = [];

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): ServerSentEvent[] {
    this.buffer += chunk;
    const events: ServerSentEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (end === -1 || (end === this.buffer.length - 1 && this.buffer[end] === '\r')) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
      const event = this.line(line);
      if (event !== undefined) events.push(event);
    }
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
    return undefined;
  }

  private dispatch(): ServerSentEvent | undefined {
    const event = this.event;
    const data = this.data;
    this.event = undefined;
    this.data = [];
    if (data.length === 0) return undefined;
    return { ...(this.id === undefined ? {} : { id: this.id }), event: event ?? 'message', data: data.join('\n') };
  }
}
