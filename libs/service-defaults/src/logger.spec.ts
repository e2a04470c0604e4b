import { describe, expect, it } from 'vitest';
import { createLogger, runWithLogContext } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ service: 'test', destination: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logger, lines };
}

describe('createLogger', () => {
  it('writes JSON lines with the service, the level as a word and an ISO time', () => {
    const { logger, lines } = capture();
    logger.info({ order_id: 'o-1' }, 'placed');
    expect(lines[0]).toMatchObject({ service: 'test', level: 'info', order_id: 'o-1', msg: 'placed' });
    expect(String(lines[0]?.['time'])).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('adds the correlation fields in force to every line, nested contexts merged, without changing what was logged', () => {
    const { logger, lines } = capture();
    const fields = { step: 'reserve' };
    runWithLogContext({ request_id: 'r-1' }, () => runWithLogContext({ saga_id: 's-1' }, () => logger.info(fields, 'inside')));
    logger.info(fields, 'outside');
    expect(lines[0]).toMatchObject({ request_id: 'r-1', saga_id: 's-1', step: 'reserve' });
    expect(lines[1]).not.toHaveProperty('request_id');
    expect(lines[1]).not.toHaveProperty('saga_id');
    expect(fields).toEqual({ step: 'reserve' });
  });

  it("lets a line's own field win over the context's", () => {
    const { logger, lines } = capture();
    runWithLogContext({ request_id: 'from-context' }, () => logger.info({ request_id: 'from-line' }, 'both'));
    expect(lines[0]?.['request_id']).toBe('from-line');
  });
});
