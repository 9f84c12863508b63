import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { ClickHouseClient } from '@clickhouse/client';
import { KafkaBus } from '@depthwatch/bus';
import { ensureClickHouse, ensureKafka } from '../../../../infra/local/ensure.ts';
import { createSinkClient } from './sink.ts';
import { liquidation, trade } from './fixtures.ts';

/**
 * Commit-after-insert on Kafka: the sink runs in a child process (as in `depthwatch engine
 * --kafka … --clickhouse …`) and is SIGKILLed while rows are buffered and not yet inserted; a new
 * child in the same consumer group resumes from the last committed mark. Everything published
 * must be in ClickHouse exactly once under FINAL.
 */

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./sink-crash.child.ts', import.meta.url));
const run = `crash${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const DB = `dwtest_${run}`;
const PREFIX = `${run}.`;
const GROUP = `${run}-sink`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Child {
  proc: ChildProcess;
  lines: string[];
  stats: { inserted: number; buffered: number; commits: number; dropped: number } | null;
  exited: Promise<void>;
}

function startChild(brokers: string, url: string): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, brokers, PREFIX, GROUP, url, DB], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, DEPTHWATCH_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const child: Child = { proc, lines: [], stats: null, exited: new Promise((r) => proc.once('exit', () => r())) };
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      if (line.startsWith('stats ')) child.stats = JSON.parse(line.slice(6));
      else {
        child.lines.push(line);
        if (child.lines.length > 200) child.lines.shift();
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  return child;
}

async function until(cond: () => boolean, ms: number, what: string, child?: Child): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (child && child.proc.exitCode !== null) throw new Error(`sink child exited (${child.proc.exitCode}) while waiting for ${what}:\n${child.lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${child ? `; child output:\n${child.lines.slice(-20).join('\n')}` : ''}`);
    await sleep(20);
  }
}

describe('ClickHouse sink on Kafka, process killed mid-run', () => {
  let brokers: string;
  let url: string;
  let client: ClickHouseClient;
  let producer: KafkaBus | undefined;
  const children: Child[] = [];

  beforeAll(async () => {
    brokers = await ensureKafka();
    url = await ensureClickHouse();
    client = createSinkClient(url);
  });

  afterAll(async () => {
    for (const c of children) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await producer?.close();
    if (brokers) {
      const admin = new Kafka({ clientId: `${run}-cleanup`, brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteGroups([GROUP]).catch(() => {});
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
      if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => {});
      await admin.disconnect();
    }
    await client?.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
    await client?.close();
  });

  it('loses and duplicates nothing across a SIGKILL with rows buffered (count and uniqExact under FINAL, and in the rollups)', async () => {
    producer = await KafkaBus.connect({ brokers: [brokers], clientId: `${run}-producer`, topicPrefix: PREFIX, lagPollMs: 0 });
    const first = startChild(brokers, url);
    children.push(first);
    await until(() => first.lines.some((l) => l.includes('sink ready')), 120_000, 'first sink ready', first);

    // Steady flow: 10 trades + 1 liquidation every 20 ms over 8 symbols (all partitions).
    let trades = 0;
    let liqs = 0;
    const p = producer;
    const pump = setInterval(() => {
      for (let k = 0; k < 10; k++, trades++) {
        const symbol = `S${trades % 8}/USDT:USDT`;
        p.publish('md.trade', `binance-futures:${symbol}`, trade(trades, { symbol, id: `t${trades}` }));
      }
      const symbol = `L${liqs % 8}/USDT:USDT`;
      p.publish('md.liquidation', `bybit:${symbol}`, liquidation(liqs, { symbol, id: `l${liqs}` }));
      liqs++;
    }, 20);
    let killedWith: Child['stats'] = null;
    try {
      // Run past a few checkpoint cycles, then kill while rows sit in the buffer (inserted every 1 s).
      await until(() => (first.stats?.commits ?? 0) >= 2 && first.stats!.inserted > 500, 30_000, 'commits in the first child', first);
      await until(() => (first.stats?.buffered ?? 0) >= 100, 10_000, 'rows buffered', first);
      killedWith = first.stats;
      first.proc.kill('SIGKILL');
      await first.exited;
      await sleep(1_500); // publishing goes on while no sink runs

      const second = startChild(brokers, url);
      children.push(second);
      await until(() => second.lines.some((l) => l.includes('sink ready')), 120_000, 'second sink ready', second);
      await sleep(3_000);
    } finally {
      clearInterval(pump);
    }
    await producer.flush();
    const second = children[1]!;
    expect(killedWith!.buffered).toBeGreaterThanOrEqual(100);

    const counts = async () => {
      const rs = await client.query({
        query: `SELECT 'trades' AS t, count() AS n, uniqExact(id) AS ids FROM ${DB}.trades FINAL
                UNION ALL SELECT 'liquidations' AS t, count() AS n, uniqExact(id) AS ids FROM ${DB}.liquidations FINAL`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ t: string; n: string; ids: string }>();
      return Object.fromEntries(rows.map((r) => [r.t, { n: Number(r.n), ids: Number(r.ids) }]));
    };
    const expected = { trades: { n: trades, ids: trades }, liquidations: { n: liqs, ids: liqs } };
    let got = await counts();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (got.trades?.n !== trades || got.liquidations?.n !== liqs)) {
      await sleep(500);
      got = await counts();
    }
    expect(got).toEqual(expected);
    expect(second.stats!.dropped).toBe(0);
    // The rollup views count inserted blocks, not FINAL rows: rows the killed sink inserted after its
    // last commit were delivered again, and the successor must not have inserted them twice.
    const rollups = await client.query({
      query: `SELECT 'trades' AS t, countMerge(trades) AS n FROM ${DB}.ohlcv_1m
              UNION ALL SELECT 'liquidations' AS t, sum(count) AS n FROM ${DB}.liquidations_1m`,
      format: 'JSONEachRow',
    });
    const rolled = Object.fromEntries((await rollups.json<{ t: string; n: string }>()).map((r) => [r.t, Number(r.n)]));
    expect(rolled).toEqual({ trades, liquidations: liqs });

    // A graceful stop commits its final mark: a third instance has nothing left to redeliver.
    second.proc.kill('SIGTERM');
    await second.exited;
    expect(second.proc.exitCode).toBe(0);
    const admin = new Kafka({ clientId: `${run}-lag`, brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      for (const topic of ['md.trade', 'md.liquidation']) {
        const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(`${PREFIX}${topic}`), admin.fetchOffsets({ groupId: GROUP, topics: [`${PREFIX}${topic}`] })]);
        const byPart = new Map(committed[0]!.partitions.map((x) => [x.partition, x.offset]));
        for (const e of ends) expect({ topic, partition: e.partition, committed: byPart.get(e.partition) }).toEqual({ topic, partition: e.partition, committed: e.high });
      }
    } finally {
      await admin.disconnect();
    }
  }, 240_000);
});
