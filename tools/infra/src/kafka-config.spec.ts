import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOwnKafkaCommandLine, kafkaLayout, newClusterId, parseBrokerList, renderLog4jProperties, renderServerProperties } from './kafka-config.js';
import { workspaceRoot } from './workspace.js';

function parseProperties(text: string): Map<string, string> {
  const entries = text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => {
      const separator = line.indexOf('=');
      return [line.slice(0, separator), line.slice(separator + 1)] as const;
    });
  return new Map(entries);
}

describe('kafkaLayout', () => {
  it('keeps broker state under the git-ignored .infra/kafka of the workspace by default', () => {
    const layout = kafkaLayout();
    expect(layout.stateDir).toBe(path.join(workspaceRoot, '.infra', 'kafka'));
    expect(layout.libsDir).toBe(path.join(workspaceRoot, '.infra', 'kafka', 'libs'));
    expect(layout.dataDir).toBe(path.join(layout.stateDir, 'data'));
    expect(layout.serverLog).toBe(path.join(layout.stateDir, 'logs', 'server.log'));
    expect([layout.host, layout.port, layout.controllerPort]).toEqual(['127.0.0.1', 9092, 9093]);
  });

  it('moves data, logs and pid file with stateDir but keeps sharing the resolved jars', () => {
    const layout = kafkaLayout({ stateDir: '/tmp/broker-a', port: 19092 });
    expect(layout.dataDir).toBe('/tmp/broker-a/data');
    expect(layout.pidFile).toBe('/tmp/broker-a/kafka.pid');
    expect(layout.libsDir).toBe(kafkaLayout().libsDir);
  });
});

describe('renderServerProperties', () => {
  const properties = parseProperties(renderServerProperties({ host: '127.0.0.1', port: 19092, controllerPort: 19093, dataDir: '/var/kafka/data' }));

  it('configures one KRaft node that is both broker and controller', () => {
    expect(properties.get('process.roles')).toBe('broker,controller');
    expect(properties.get('node.id')).toBe('1');
    expect(properties.get('controller.quorum.voters')).toBe('1@127.0.0.1:19093');
    expect(properties.get('controller.listener.names')).toBe('CONTROLLER');
  });

  it('listens and advertises on the configured address and ports', () => {
    expect(properties.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(properties.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:19092');
  });

  it('stores partitions in the data dir and sizes internal topics for a single node', () => {
    expect(properties.get('log.dirs')).toBe('/var/kafka/data');
    expect(properties.get('num.partitions')).toBe('3');
    expect(properties.get('offsets.topic.replication.factor')).toBe('1');
    expect(properties.get('offsets.topic.num.partitions')).toBe('5');
    expect(properties.get('transaction.state.log.replication.factor')).toBe('1');
    expect(properties.get('transaction.state.log.min.isr')).toBe('1');
    expect(properties.get('group.initial.rebalance.delay.ms')).toBe('0');
  });

  it('never auto-creates topics, so services must declare theirs', () => {
    expect(properties.get('auto.create.topics.enable')).toBe('false');
  });

  it('escapes backslashes in paths the way java.util.Properties reads them', () => {
    const windows = parseProperties(renderServerProperties({ host: 'h', port: 1, controllerPort: 2, dataDir: 'C:\\kafka\\data' }));
    expect(windows.get('log.dirs')).toBe('C:\\\\kafka\\\\data');
  });
});

describe('renderLog4jProperties', () => {
  it('sends the broker log to the given file instead of the console', () => {
    const properties = parseProperties(renderLog4jProperties('/var/kafka/logs/server.log'));
    expect(properties.get('log4j.rootLogger')).toBe('INFO, file');
    expect(properties.get('log4j.appender.file')).toBe('org.apache.log4j.FileAppender');
    expect(properties.get('log4j.appender.file.File')).toBe('/var/kafka/logs/server.log');
  });
});

describe('isOwnKafkaCommandLine', () => {
  const config = '/work/.infra/kafka/config/server.properties';

  it('recognizes kafka.Kafka started with our server.properties', () => {
    expect(isOwnKafkaCommandLine(['java', '-Xmx512m', '-cp', '/libs/*', 'kafka.Kafka', config], config)).toBe(true);
  });

  it('rejects a broker started with another configuration', () => {
    expect(isOwnKafkaCommandLine(['java', '-cp', '/tmp/libs/*', 'kafka.Kafka', 'server.properties'], config)).toBe(false);
    expect(isOwnKafkaCommandLine(['java', '-cp', '/libs/*', 'kafka.Kafka', '/elsewhere/server.properties'], config)).toBe(false);
  });

  it('rejects a process that reused the pid but is not a Kafka broker', () => {
    expect(isOwnKafkaCommandLine(['node', '/app/main.js', config], config)).toBe(false);
    expect(isOwnKafkaCommandLine(['java', '-cp', '/libs/*', 'kafka.tools.StorageTool', 'format', '-c', config], config)).toBe(false);
    expect(isOwnKafkaCommandLine(['java', 'kafka.Kafka'], config)).toBe(false);
    expect(isOwnKafkaCommandLine([], config)).toBe(false);
  });
});

describe('newClusterId', () => {
  it('makes a 22-character URL-safe base64 id, different each time', () => {
    const id = newClusterId();
    expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(newClusterId()).not.toBe(id);
  });

  it('never starts with a dash, which the storage tool would parse as an option', () => {
    const leadingDash = Buffer.alloc(16, 0xf8); // 0b111110.. encodes as '-' first
    const plain = Buffer.alloc(16, 0x10);
    const draws = [leadingDash, leadingDash, plain];
    const id = newClusterId(() => draws.shift() ?? plain);
    expect(leadingDash.toString('base64url').startsWith('-')).toBe(true);
    expect(id).toBe(plain.toString('base64url'));
  });
});

describe('parseBrokerList', () => {
  it('splits a comma list and ignores blanks and spaces', () => {
    expect(parseBrokerList(' a:9092, b:9092 ,,')).toEqual(['a:9092', 'b:9092']);
    expect(parseBrokerList('')).toEqual([]);
  });
});
