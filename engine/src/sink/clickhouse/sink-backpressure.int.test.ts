import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import { KafkaBus } from '@depthwatch/bus';
import { metricValue } from '@depthwatch/ops';
import { ensureClickHouse, ensureKafka } from '../../../../infra/local/ensure.ts';
import { createSinkClient, startClickHouseSink, type ClickHouseSink } from './sink.ts';
import { trade } from './fixtures.ts';

/**
 * Long ClickHouse outage on Kafka: the sink's buffer (small cap here) fills, the sink pauses its
 * own consumer group instead of dropping, another group on the same bus (standing for the engine)
 * keeps reading, and after ClickHouse is back every published row is stored exactly once.
 */

const exec = promisify(execFile);
const CLICKHOUSE_SH = fileURLToPath(new URL('../../../../infra/local/clickhouse.sh', import.meta.url));
const run = `bp${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const DB = `dwtest_${run}`;
const PREFIX = `${run}.`;
const SINK_GROUP = `${run}-sink`;
const OTHER_GROUP = `${run}-engine`;
const CAP = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('ClickHouse sink on Kafka, ClickHouse down long enough to fill the buffer', () => {
  let brokers: string[];
  let url: string;
  let client: ClickHouseClient;
  let producer: KafkaBus | undefined;
  let consumers: KafkaBus | undefined;
  let sink: ClickHouseSink | undefined;
  let clickhouseStopped = false;

  beforeAll(async () => {
    brokers = (await ensureKafka()).split(',');
    url = await ensureClickHouse();
    client = createSinkClient(url);
  });

  afterAll(async () => {
    if (clickhouseStopped) await exec('bash', [CLICKHOUSE_SH, 'start'], { timeout: 120_000 });
    await sink?.close();
    await consumers?.close();
    await producer?.close();
    if (brokers) {
      const admin = new Kafka({ clientId: `${run}-cleanup`, brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteGroups([SINK_GROUP, OTHER_GROUP]).catch(() => {});
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
      if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => {});
      await admin.disconnect();
    }
    for (let attempt = 0; attempt < 3; attempt++) {
      const ok = await client?.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).then(() => true, () => false);
      if (ok) break;
    }
    await client?.close();
  });

  it('pauses its consumer group at the cap (bounded buffer, other groups unaffected), then stores every row exactly once (count and uniqExact under FINAL)', async () => {
    producer = await KafkaBus.connect({ brokers, clientId: `${run}-producer`, topicPrefix: PREFIX, lagPollMs: 0 });
    consumers = await KafkaBus.connect({ brokers, clientId: `${run}-consumers`, topicPrefix: PREFIX, lagPollMs: 0 });
    const otherSeen = new Set<string>();
    await consumers.subscribe('md.trade', (e) => void otherSeen.add(e.id), { group: OTHER_GROUP });
    const s = await startClickHouseSink({ bus: consumers, url, database: DB, runId: run, group: SINK_GROUP, maxBufferedRows: CAP, batchRows: 500, flushMs: 200 });
    sink = s;

    // ~2 500 trades/s over 8 symbols (every partition).
    let published = 0;
    const p = producer;
    const pump = setInterval(() => {
      for (let k = 0; k < 50; k++, published++) {
        const symbol = `S${published % 8}/USDT:USDT`;
        p.publish('md.trade', `binance-futures:${symbol}`, trade(published, { symbol, id: `t${published}` }));
      }
    }, 20);
    let maxBuffered = 0;
    const rss: number[] = [];
    const sampler = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, s.stats.buffered);
      rss.push(process.memoryUsage().rss);
    }, 25);
    let bufferedAtPause = 0;
    let gaugeDuringPause = 0;
    let otherDuringPause = 0;
    let publishedDuringPause = 0;
    try {
      await until(() => s.stats.inserted > 1_000, 30_000, 'first inserts');
      await exec('bash', [CLICKHOUSE_SH, 'stop'], { timeout: 60_000 });
      clickhouseStopped = true;
      await until(() => s.stats.backpressure, 30_000, 'back-pressure');
      bufferedAtPause = s.stats.buffered;
      gaugeDuringPause = await metricValue('depthwatch_sink_backpressure');
      const otherAtPause = otherSeen.size;
      const publishedAtPause = published;
      rss.length = 0;
      // Stay down for a while with traffic flowing: the backlog waits in Kafka, not in the sink.
      await sleep(8_000);
      otherDuringPause = otherSeen.size - otherAtPause;
      publishedDuringPause = published - publishedAtPause;
      expect(s.stats.backpressure).toBe(true);
      expect(s.stats.buffered).toBe(bufferedAtPause);
      expect(s.health().details.buffer).toMatch(/paused/);
      await exec('bash', [CLICKHOUSE_SH, 'start'], { timeout: 120_000 });
      clickhouseStopped = false;
      await sleep(2_000);
    } finally {
      clearInterval(pump);
      clearInterval(sampler);
    }
    await producer.flush();

    expect(bufferedAtPause).toBeGreaterThanOrEqual(CAP);
    expect(maxBuffered).toBeLessThanOrEqual(CAP); // the pause takes effect before the next record
    expect(gaugeDuringPause).toBe(1);
    // The engine's group kept reading while the sink's was paused.
    expect(publishedDuringPause).toBeGreaterThan(10_000);
    expect(otherDuringPause).toBeGreaterThan(publishedDuringPause * 0.8);
    // 20 000+ rows waited in Kafka during the pause; the process did not grow to hold them.
    const rssGrowthMb = (Math.max(...rss) - Math.min(...rss)) / 2 ** 20;
    console.log(`back-pressure drill: cap ${CAP}, buffered at pause ${bufferedAtPause}, max ${maxBuffered}, published during pause ${publishedDuringPause}, RSS range during pause ${rssGrowthMb.toFixed(1)} MiB, pauses ${s.stats.pauses}`);
    expect(rssGrowthMb).toBeLessThan(64);

    const counts = async () => {
      const rs = await client.query({ query: `SELECT count() AS n, uniqExact(id) AS ids FROM ${DB}.trades FINAL WHERE run_id = '${run}'`, format: 'JSONEachRow' });
      const [r] = await rs.json<{ n: string; ids: string }>();
      return { n: Number(r.n), ids: Number(r.ids) };
    };
    let got = { n: 0, ids: 0 };
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      got = await counts().catch(() => got);
      if (got.n >= published) break;
      await sleep(500);
    }
    expect(got).toEqual({ n: published, ids: published });
    await until(() => otherSeen.size === published, 30_000, 'the other group to see every record');
    expect(s.stats.dropped).toBe(0);
    expect(s.stats.backpressure).toBe(false);
    expect(s.stats.pauses).toBeGreaterThanOrEqual(1);
    expect(await metricValue('depthwatch_sink_backpressure')).toBe(0);
  }, 300_000);
});
