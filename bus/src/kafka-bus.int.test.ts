import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { TOPICS, type Topic, type TopicEvents } from '@depthwatch/schemas';
import { metricValue } from '@depthwatch/ops';
import { ensureKafka } from '../../infra/local/ensure.ts';
import { KafkaBus } from './kafka-bus.ts';

const T0 = 1_767_225_600_000;

function sample<T extends Topic>(topic: T, seq: number, symbol = 'BTC/USDT:USDT'): TopicEvents[T] {
  const h = { venue: 'binance-futures' as const, symbol, ts: T0 + seq, recvTs: T0 + seq + 3, seq };
  const events: { [K in Topic]: TopicEvents[K] } = {
    'md.book':
      seq % 2 === 0
        ? { type: 'book_snapshot', ...h, bids: [[100, 1]], asks: [[101, 2]], depthLimit: 1000 }
        : { type: 'book_delta', ...h, bids: [[100, 0]], asks: [] },
    'md.trade': { type: 'trade', ...h, id: `t${seq}`, price: 100.5, amount: 0.25, side: 'buy', liquidation: false },
    'md.liquidation': { type: 'liquidation', ...h, id: `l${seq}`, liquidatedPosition: 'long', price: 99, amount: 2, notional: 198, completeness: 'lower_bound' },
    'md.ticker': { type: 'ticker', ...h, markPrice: 100, indexPrice: 100.1, lastPrice: null, fundingRate: 0.0001, nextFundingTime: T0 + 3_600_000, openInterest: 12345 },
    'md.status': { type: 'status', ...h, state: 'synced', reason: '', resyncs: 1, gaps: 0, checksumFailures: 0, reconnects: 0, lagMs: 12.5 },
    'out.depth': {
      type: 'depth',
      venue: h.venue,
      symbol,
      ts: h.ts,
      seq,
      bestBid: 100,
      bestAsk: 101,
      mid: 100.5,
      microprice: 100.4,
      spreadBps: 99.5,
      imbalance: -0.2,
      bidLevels: 10,
      askLevels: 12,
      bands: [{ pct: 0.1, bidBase: 1, askBase: 2, bidQuote: 100, askQuote: 202, bidTruncated: false, askTruncated: true }],
      slippage: [{ notional: 10_000, buyBps: 3.5, sellBps: null }],
      capacity: [{ bps: 10, buyQuote: 5_000, sellQuote: 6_000 }],
    },
    'out.alert': {
      type: 'alert',
      id: `a${seq}`,
      kind: 'cascade',
      scope: 'symbol',
      venue: h.venue,
      symbol,
      asset: 'BTC',
      side: 'bid',
      stage: 'cascade',
      severity: 'warning',
      state: 'open',
      startTs: h.ts,
      ts: h.ts,
      endTs: null,
      seq,
      evidence: {
        liquidationNotional: 1e6,
        liquidationRate: 5,
        liquidationBaselineRate: 0.5,
        depth2Pct: 1e6,
        depth2PctBaseline: 3e6,
        spreadBps: 4,
        spreadBaselineBps: 1,
        priceMovePct: -1.2,
        venues: ['binance-futures'],
        lowerBoundVenues: ['binance-futures'],
        depthTruncated: false,
      },
      explanation: 'test',
    },
  };
  return events[topic];
}

async function until(cond: () => boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}


describe('KafkaBus (real broker)', () => {
  let brokers: string[];
  const buses: KafkaBus[] = [];
  const run = `t${Date.now().toString(36)}${randomUUID().slice(0, 6)}`;

  async function newBus(name: string, extra: Partial<Parameters<typeof KafkaBus.connect>[0]> = {}): Promise<KafkaBus> {
    const bus = await KafkaBus.connect({ brokers, clientId: `${run}-${name}`, topicPrefix: `${run}.`, groupPrefix: `${run}.`, lagPollMs: 0, ...extra });
    buses.push(bus);
    return bus;
  }

  beforeAll(async () => {
    brokers = [await ensureKafka()];
  });

  afterAll(async () => {
    await Promise.all(buses.map((b) => b.close()));
    if (!brokers) return;
    const admin = new Kafka({ clientId: `${run}-cleanup`, brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(run));
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => {});
    await admin.disconnect();
  });

  it('round-trips every topic, validated and with its key', async () => {
    const bus = await newBus('rt');
    const got = new Map<Topic, { event: unknown; key: string }[]>();
    for (const topic of TOPICS) {
      await bus.subscribe(topic, (event, key) => {
        const list = got.get(topic) ?? [];
        list.push({ event, key });
        got.set(topic, list);
      });
    }
    for (const topic of TOPICS) {
      bus.publish(topic, 'binance-futures:BTC/USDT:USDT', sample(topic, 1));
      bus.publish(topic, 'binance-futures:BTC/USDT:USDT', sample(topic, 2));
    }
    await bus.flush();
    await until(() => TOPICS.every((t) => (got.get(t)?.length ?? 0) === 2), 20_000, 'all topics');
    for (const topic of TOPICS) {
      expect(got.get(topic)).toEqual([
        { event: sample(topic, 1), key: 'binance-futures:BTC/USDT:USDT' },
        { event: sample(topic, 2), key: 'binance-futures:BTC/USDT:USDT' },
      ]);
    }
  });

  it('keeps per-key order across partitions and batches', async () => {
    const bus = await newBus('order', { batchMaxMessages: 97 });
    const seen = new Map<string, number[]>();
    await bus.subscribe('md.trade', (e, key) => {
      const list = seen.get(key) ?? [];
      list.push(e.seq);
      seen.set(key, list);
    });
    const symbols = Array.from({ length: 12 }, (_, i) => `S${i}/USDT`);
    const perKey = 400;
    for (let s = 0; s < perKey; s++) {
      for (const sym of symbols) bus.publish('md.trade', `binance-futures:${sym}`, sample('md.trade', s, sym));
    }
    await bus.flush();
    await until(() => [...seen.values()].reduce((a, l) => a + l.length, 0) === symbols.length * perKey, 30_000, 'all trades');
    for (const sym of symbols) {
      expect(seen.get(`binance-futures:${sym}`)).toEqual(Array.from({ length: perKey }, (_, i) => i));
    }
  });

  it('splits partitions between two consumers of one group, each key to one member, co-partitioned', async () => {
    const a = await newBus('ga');
    const b = await newBus('gb');
    const gotA = new Map<string, number>();
    const gotB = new Map<string, number>();
    const count = (m: Map<string, number>) => (_e: unknown, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
    await a.subscribe('md.trade', count(gotA), { group: 'engine' });
    await a.subscribe('md.liquidation', count(gotA), { group: 'engine' });
    const [subB1, subB2] = await Promise.all([
      b.subscribe('md.trade', count(gotB), { group: 'engine' }),
      b.subscribe('md.liquidation', count(gotB), { group: 'engine' }),
    ]);
    // Both members have joined the same generation once b's subscriptions resolved; let a settle.
    await new Promise((r) => setTimeout(r, 4_000));
    const symbols = Array.from({ length: 24 }, (_, i) => `K${i}/USDT`);
    for (const sym of symbols) {
      for (let i = 0; i < 5; i++) {
        a.publish('md.trade', `binance-futures:${sym}`, sample('md.trade', i, sym));
        a.publish('md.liquidation', `binance-futures:${sym}`, sample('md.liquidation', i, sym));
      }
    }
    await a.flush();
    const total = () => [...gotA.values(), ...gotB.values()].reduce((x, y) => x + y, 0);
    await until(() => total() === symbols.length * 10, 30_000, 'group delivery');
    expect(gotA.size).toBeGreaterThan(0);
    expect(gotB.size).toBeGreaterThan(0);
    for (const sym of symbols) {
      const key = `binance-futures:${sym}`;
      // one member owns the key on both topics (co-partitioning), none is delivered twice
      expect((gotA.get(key) ?? 0) + (gotB.get(key) ?? 0)).toBe(10);
      expect([gotA.get(key) ?? 0, gotB.get(key) ?? 0].sort()).toEqual([0, 10]);
    }
    await subB1();
    await subB2();
  });

  it('counts and skips bad records while good ones still arrive', async () => {
    const bus = await newBus('bad', { topicPrefix: `${run}-bad.` });
    const got: number[] = [];
    await bus.subscribe('md.trade', (e) => got.push(e.seq));
    const before = await metricValue('depthwatch_bus_bad_records_total', { topic: 'md.trade' });
    const kafka = new Kafka({ clientId: `${run}-raw`, brokers, logLevel: logLevel.NOTHING });
    const raw = kafka.producer();
    await raw.connect();
    bus.publish('md.trade', 'k', sample('md.trade', 1));
    await bus.flush();
    await raw.send({
      topic: `${run}-bad.md.trade`,
      messages: [
        { key: 'k', value: 'this is not json' },
        { key: 'k', value: JSON.stringify(sample('md.liquidation', 2)) }, // valid event, wrong topic
        { key: 'k', value: JSON.stringify({ ...sample('md.trade', 3), price: '100.5' }) }, // schema violation
        { key: 'k', value: null },
      ],
    });
    await raw.disconnect();
    bus.publish('md.trade', 'k', sample('md.trade', 4));
    await bus.flush();
    await until(() => got.length === 2, 20_000, 'good records');
    expect(got).toEqual([1, 4]);
    expect((await metricValue('depthwatch_bus_bad_records_total', { topic: 'md.trade' })) - before).toBe(4);
  });

  it('flush() resolves only when every record published before it is acknowledged', async () => {
    const bus = await newBus('flush', { lingerMs: 1_000, batchMaxMessages: 500 });
    await bus.flush(); // nothing pending: immediate
    const kafka = new Kafka({ clientId: `${run}-adm`, brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const logEnd = async () => (await admin.fetchTopicOffsets(`${run}.md.ticker`)).reduce((a, p) => a + Number(p.high), 0);
    const start = await logEnd();
    const producedBefore = await metricValue('depthwatch_bus_produced_total', { topic: 'md.ticker' });
    for (let i = 0; i < 1_234; i++) bus.publish('md.ticker', `binance-futures:S${i % 7}/USDT`, sample('md.ticker', i, `S${i % 7}/USDT`));
    expect(bus.pending).toBeGreaterThan(0);
    const t0 = Date.now();
    await bus.flush();
    expect(Date.now() - t0).toBeLessThan(1_000); // flush sends now, it does not wait for the linger timer
    expect(bus.pending).toBe(0);
    expect((await logEnd()) - start).toBe(1_234);
    expect((await metricValue('depthwatch_bus_produced_total', { topic: 'md.ticker' })) - producedBefore).toBe(1_234);
    await admin.disconnect();
  });

  it('fromBeginning rebuilds state: a restarted group member replays retained records despite committed offsets', async () => {
    const producer = await newBus('rb-prod', { topicPrefix: `${run}-rb.` });
    for (let i = 0; i < 50; i++) producer.publish('md.book', 'binance-futures:BTC/USDT:USDT', sample('md.book', i));
    await producer.flush();

    const first = await newBus('rb-1', { topicPrefix: `${run}-rb.` });
    const got1: number[] = [];
    await first.subscribe('md.book', (e) => got1.push(e.seq), { group: 'book-engine', fromBeginning: true });
    await until(() => got1.length === 50, 20_000, 'first replay');
    await first.close(); // commits offsets at 50

    // Same group without fromBeginning: resumes from committed offsets, nothing old again.
    const plain = await newBus('rb-2', { topicPrefix: `${run}-rb.` });
    const got2: number[] = [];
    const unsub = await plain.subscribe('md.book', (e) => got2.push(e.seq), { group: 'book-engine' });
    producer.publish('md.book', 'binance-futures:BTC/USDT:USDT', sample('md.book', 50));
    await producer.flush();
    await until(() => got2.length === 1, 20_000, 'resume');
    expect(got2).toEqual([50]);
    await unsub();
    await plain.close();

    // Restart with fromBeginning: everything retained again, in order.
    const again = await newBus('rb-3', { topicPrefix: `${run}-rb.` });
    const got3: number[] = [];
    await again.subscribe('md.book', (e) => got3.push(e.seq), { group: 'book-engine', fromBeginning: true });
    await until(() => got3.length === 51, 20_000, 'second replay');
    expect(got3).toEqual(Array.from({ length: 51 }, (_, i) => i));
  });

  it('fromBeginning flags records the group had consumed before as replays', async () => {
    const prefix = `${run}-rp.`;
    const producer = await newBus('rp-prod', { topicPrefix: prefix });
    const key = 'binance-futures:BTC/USDT:USDT';
    for (let i = 0; i < 20; i++) producer.publish('md.book', key, sample('md.book', i));
    await producer.flush();
    const first = await newBus('rp-1', { topicPrefix: prefix });
    const got1: [number, boolean][] = [];
    await first.subscribe('md.book', (e, _k, info) => got1.push([e.seq, info.replay]), { group: 'rebuild', fromBeginning: true });
    await until(() => got1.length === 20, 20_000, 'first pass');
    expect(got1.every(([, replay]) => !replay)).toBe(true); // nothing committed before: all new to the group
    await first.close();
    for (let i = 20; i < 25; i++) producer.publish('md.book', key, sample('md.book', i));
    await producer.flush();
    const second = await newBus('rp-2', { topicPrefix: prefix });
    const got2: [number, boolean][] = [];
    await second.subscribe('md.book', (e, _k, info) => got2.push([e.seq, info.replay]), { group: 'rebuild', fromBeginning: true });
    await until(() => got2.length === 25, 20_000, 'rebuild');
    expect(got2).toEqual(Array.from({ length: 25 }, (_, i) => [i, i < 20]));
  });

  it('manualCommit: a restarted member resumes after the last committed mark; adding a topic does not redeliver', async () => {
    const prefix = `${run}-mc.`;
    const producer = await newBus('mc-prod', { topicPrefix: prefix });
    const keys = Array.from({ length: 8 }, (_, i) => `binance-futures:M${i}/USDT`);
    let next = 0;
    const publish = async (n: number) => {
      for (let k = 0; k < n; k++, next++) producer.publish('md.trade', keys[next % keys.length], sample('md.trade', next, `M${next % keys.length}/USDT`));
      await producer.flush();
    };
    const a = await newBus('mc-a', { topicPrefix: prefix });
    const gotA: number[] = [];
    await a.subscribe('md.trade', (e) => gotA.push(e.seq), { group: 'mc', manualCommit: true });
    await expect(a.subscribe('md.ticker', () => {}, { group: 'mc' })).rejects.toThrow(/manualCommit/);
    await publish(40);
    await until(() => gotA.length === 40, 20_000, 'first 40');
    // Subscribing another topic restarts the group's consumer: it must continue after what was
    // delivered, not at the (absent) last commit.
    await a.subscribe('md.liquidation', () => {}, { group: 'mc', manualCommit: true });
    await publish(10);
    await until(() => gotA.length === 50, 20_000, 'next 10');
    const mark = a.deliveryMark('mc');
    await publish(30);
    await until(() => gotA.length === 80, 20_000, 'next 30');
    expect(gotA.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 80 }, (_, i) => i));
    await a.commit(mark);
    await a.close(); // no commit on close: the 30 after the mark are not committed

    const b = await newBus('mc-b', { topicPrefix: prefix });
    const gotB: number[] = [];
    await b.subscribe('md.trade', (e) => gotB.push(e.seq), { group: 'mc', manualCommit: true });
    await until(() => gotB.length === 30, 20_000, 'redelivered 30');
    await new Promise((r) => setTimeout(r, 500));
    expect(gotB.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => 50 + i));
    const markB = b.deliveryMark('mc');
    await b.commit(markB);
    await b.commit(a.deliveryMark('mc')); // a foreign, empty mark: nothing happens
    await b.close();

    const c = await newBus('mc-c', { topicPrefix: prefix });
    const gotC: number[] = [];
    await c.subscribe('md.trade', (e) => gotC.push(e.seq), { group: 'mc', manualCommit: true });
    await publish(1);
    await until(() => gotC.length === 1, 20_000, 'only the new record');
    await new Promise((r) => setTimeout(r, 500));
    expect(gotC).toEqual([80]);
  });

  it('manualCommit: a member that crashes before its first record still resumes where it joined', async () => {
    const prefix = `${run}-mj.`;
    const producer = await newBus('mj-prod', { topicPrefix: prefix });
    producer.publish('md.trade', 'k', sample('md.trade', 0)); // old: before the group exists
    await producer.flush();
    const a = await newBus('mj-a', { topicPrefix: prefix });
    await a.subscribe('md.trade', () => {}, { group: 'mj', manualCommit: true });
    await a.commit(a.deliveryMark('mj')); // commits the join position although nothing was delivered
    await a.close();
    producer.publish('md.trade', 'k', sample('md.trade', 1)); // published while no member runs
    await producer.flush();
    const b = await newBus('mj-b', { topicPrefix: prefix });
    const got: number[] = [];
    await b.subscribe('md.trade', (e) => got.push(e.seq), { group: 'mj', manualCommit: true });
    await until(() => got.length === 1, 20_000, 'record published while down');
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toEqual([1]);
  });

  it('reports consumer lag per group and topic', async () => {
    const bus = await newBus('lag');
    let n = 0;
    await bus.subscribe('md.status', () => n++, { group: 'lagging' });
    for (let i = 0; i < 20; i++) bus.publish('md.status', 'binance-futures:BTC/USDT:USDT', sample('md.status', i));
    await bus.flush();
    await until(() => n === 20, 20_000, 'status');
    let lag: Record<string, number> = {};
    const deadline = Date.now() + 10_000;
    do {
      lag = await bus.pollLag();
    } while (lag[`${run}.lagging/md.status`] !== 0 && Date.now() < deadline);
    expect(lag[`${run}.lagging/md.status`]).toBe(0);
    expect(await metricValue('depthwatch_bus_consumer_lag', { topic: 'md.status', group: `${run}.lagging` })).toBe(0);
  });
});
