import { createServer } from 'node:net';
import { describe, it, expect } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { clickHouseProblem, ensureClickHouse, ensureKafka, kafkaProblem } from './ensure.ts';

const FIVE_MINUTES = 5 * 60_000;

describe('infra/local ensure', () => {
  it(
    'brings up Kafka and ClickHouse (or uses DEPTHWATCH_KAFKA / DEPTHWATCH_CLICKHOUSE) and both answer',
    async () => {
      const [brokers, clickhouse] = await Promise.all([ensureKafka(), ensureClickHouse()]);
      expect(brokers).toMatch(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/);
      expect(clickhouse).toMatch(/^https?:\/\//);

      // Kafka: a real metadata round trip through a real client, not just an open port.
      const kafka = new Kafka({
        clientId: 'depthwatch-infra-test',
        brokers: brokers.split(','),
        logLevel: logLevel.NOTHING,
        retry: { retries: 3 },
      });
      const admin = kafka.admin();
      await admin.connect();
      try {
        const topics = await admin.listTopics();
        expect(Array.isArray(topics)).toBe(true);
        const cluster = await admin.describeCluster();
        expect(cluster.brokers.length).toBeGreaterThanOrEqual(1);
      } finally {
        await admin.disconnect();
      }

      // ClickHouse: SELECT version() over HTTP.
      const res = await fetch(`${clickhouse}/?query=${encodeURIComponent('SELECT version()')}`);
      const version = (await res.text()).trim();
      expect(res.status, version).toBe(200);
      expect(version).toMatch(/^\d+\.\d+\.\d+/);

      // Memoized: a second call is immediate and returns the same address.
      expect(await ensureKafka()).toBe(brokers);
      expect(await ensureClickHouse()).toBe(clickhouse);
    },
    FIVE_MINUTES,
  );

  it('probes explain what does not answer', async () => {
    const closed = await closedPort();
    expect(await kafkaProblem(`127.0.0.1:${closed}`)).toMatch(/ECONNREFUSED/);
    expect(await kafkaProblem('nonsense')).toMatch(/not host:port/);
    expect(await clickHouseProblem(`http://127.0.0.1:${closed}`)).toMatch(/ECONNREFUSED/);
  });
});

/** A local port nothing listens on (bound, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
