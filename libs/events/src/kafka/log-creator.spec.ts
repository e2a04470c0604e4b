import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@msr/service-defaults';
import { kafkaLogLevel, pinoLogCreator } from './log-creator.js';

function capturingLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service: 'events-test', level, destination }), lines };
}

describe('kafkajs logging', () => {
  it('writes kafkajs entries as pino lines at the matching level with their namespace and fields', async () => {
    const { logger, lines } = capturingLogger('info');
    const log = pinoLogCreator(logger)(logLevel.INFO);

    log({ namespace: 'Consumer', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 'x', logger: 'kafkajs', message: 'Crash', groupId: 'g1' } });
    log({ namespace: 'Producer', level: logLevel.WARN, label: 'WARN', log: { timestamp: 'x', message: 'slow' } });
    log({ namespace: 'Connection', level: logLevel.DEBUG, label: 'DEBUG', log: { timestamp: 'x', message: 'hidden' } });
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toEqual([
      expect.objectContaining({ level: 'error', msg: 'Crash', kafka: 'Consumer', groupId: 'g1', component: 'kafkajs', service: 'events-test' }),
      expect.objectContaining({ level: 'warn', msg: 'slow', kafka: 'Producer' }),
    ]);
    expect(lines[0]).not.toHaveProperty('logger');
  });

  it('demotes the warning about the producer retries limited on purpose to debug', async () => {
    const { logger, lines } = capturingLogger('debug');
    const log = pinoLogCreator(logger)(logLevel.DEBUG);

    log({ namespace: 'Producer', level: logLevel.WARN, label: 'WARN', log: { timestamp: 'x', message: 'Limiting retries for the idempotent producer may invalidate EoS guarantees' } });
    await new Promise((resolve) => setImmediate(resolve));

    expect(lines).toEqual([expect.objectContaining({ level: 'debug', kafka: 'Producer' })]);
  });

  it('asks kafkajs for no more detail than the logger keeps', () => {
    expect(kafkaLogLevel(capturingLogger('debug').logger)).toBe(logLevel.DEBUG);
    expect(kafkaLogLevel(capturingLogger('warn').logger)).toBe(logLevel.WARN);
    expect(kafkaLogLevel(capturingLogger('silent').logger)).toBe(logLevel.NOTHING);
  });
});
