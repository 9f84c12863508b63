import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import type { Alert, BookEvent, DepthMetrics, FeedStatus, Level } from '@depthwatch/schemas';
import { KafkaBus } from '@depthwatch/bus';
import { ensureKafka } from '../../infra/local/ensure.ts';
import { startEngine, type EngineStage } from './engine.ts';

/**
 * A restarted engine (same consumer group) resumes md.trade & co. at the committed offsets but
 * rewinds md.book (fromBeginning + rewindMs), so it rebuilds every book from the latest snapshot
 * plus the deltas after it — including deltas published while no engine ran — without
 * republishing depth for the part the previous instance had already processed.
 */

const run = `er${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
const PREFIX = `${run}.`;
const GROUP = `${run}-engine`;
const VENUE = 'binance-futures';
const BTC = 'BTC/USDT:USDT';
const ETH = 'ETH/USDT:USDT';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The book the test expects, maintained from the same events. */
class RefBook {
  bids = new Map<number, number>();
  asks = new Map<number, number>();
  apply(e: BookEvent): void {
    if (e.type === 'book_snapshot') {
      this.bids = new Map(e.bids);
      this.asks = new Map(e.asks);
      return;
    }
    for (const [p, q] of e.bids) (q === 0 ? this.bids.delete(p) : this.bids.set(p, q));
    for (const [p, q] of e.asks) (q === 0 ? this.asks.delete(p) : this.asks.set(p, q));
  }
  levels(side: 'bid' | 'ask'): Level[] {
    const m = side === 'bid' ? this.bids : this.asks;
    return [...m].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0]));
  }
}

describe('engine restart on Kafka', () => {
  let brokers: string;
  const buses: KafkaBus[] = [];
  const engines: EngineStage[] = [];

  const newBus = async (name: string, rewind = false): Promise<KafkaBus> => {
    const bus = await KafkaBus.connect({
      brokers: [brokers],
      clientId: `${run}-${name}`,
      topicPrefix: PREFIX,
      lagPollMs: 0,
      ...(rewind ? { rewindMs: { 'md.book': 120_000 } } : {}),
    });
    buses.push(bus);
    return bus;
  };

  beforeAll(async () => {
    brokers = await ensureKafka();
  });

  afterAll(async () => {
    for (const e of engines) await e.close().catch(() => {});
    await Promise.all(buses.map((b) => b.close().catch(() => {})));
    if (!brokers) return;
    const admin = new Kafka({ clientId: `${run}-cleanup`, brokers: [brokers], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteGroups([GROUP, `${GROUP}-alerts`]).catch(() => {});
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => {});
    await admin.disconnect();
  });

  it('rebuilds books from the last snapshot plus later deltas and does not republish the replayed part', async () => {
    const producer = await newBus('producer');
    const refs: Record<string, RefBook> = { [BTC]: new RefBook(), [ETH]: new RefBook() };
    const T0 = Date.now() - 30_000;
    let seq = 0;
    const lastTs: Record<string, number> = { [BTC]: 0, [ETH]: 0 };
    type Body = { type: 'book_snapshot'; bids: Level[]; asks: Level[]; depthLimit: number } | { type: 'book_delta'; bids: Level[]; asks: Level[] };
    const publish = (symbol: string, e: Body, ts: number) => {
      const ev = { ...e, venue: VENUE, symbol, ts, recvTs: ts + 2, seq: ++seq } as BookEvent;
      refs[symbol]!.apply(ev);
      lastTs[symbol] = ts;
      producer.publish('md.book', `${VENUE}:${symbol}`, ev);
    };
    const snapshot = (symbol: string, mid: number, ts: number) => {
      const bids: Level[] = Array.from({ length: 50 }, (_, i) => [mid - 1 - i, 1 + i]);
      const asks: Level[] = Array.from({ length: 50 }, (_, i) => [mid + 1 + i, 1 + i]);
      publish(symbol, { type: 'book_snapshot', bids, asks, depthLimit: 0 }, ts);
    };
    // A random-ish walk of level changes around the top (deterministic).
    const delta = (symbol: string, mid: number, i: number, ts: number) => {
      const bid = mid - 1 - (i % 7);
      const ask = mid + 1 + ((i * 3) % 5);
      publish(symbol, { type: 'book_delta', bids: [[bid, i % 4 === 0 ? 0 : 10 + i]], asks: [[ask, i % 5 === 0 ? 0 : 20 + i]] }, ts);
    };

    // Phase 1: snapshots + deltas, processed by a first engine.
    let t = T0;
    snapshot(BTC, 50_000, t);
    snapshot(ETH, 3_000, t);
    for (let i = 1; i <= 40; i++) {
      t += 50;
      delta(BTC, 50_000, i, t);
      if (i <= 20) delta(ETH, 3_000, i, t);
    }
    await producer.flush();
    const phase1BtcTs = lastTs[BTC];
    const ethTs = lastTs[ETH];

    const bus1 = await newBus('engine-1', true);
    const first = await startEngine({ bus: bus1, group: GROUP });
    engines.push(first);
    const key = `${VENUE}:${BTC}`;
    await until(() => first.books.get(key)?.topLevels('bid', 100).length === refs[BTC]!.levels('bid').length && first.core.clock >= phase1BtcTs, 30_000, 'first engine caught up');
    expect(first.books.get(key)!.topLevels('bid', 100)).toEqual(refs[BTC]!.levels('bid'));
    await sleep(300); // its trailing flush publishes what is pending
    await first.close();
    await bus1.close(); // offsets committed: the next member of the group resumes after phase 1

    // Phase 2: more BTC deltas while no engine runs, no new snapshot; ETH stays quiet.
    for (let i = 41; i <= 60; i++) {
      t += 50;
      delta(BTC, 50_000, i, t);
    }
    await producer.flush();

    // Watch out.depth from now on (a private group sees only what is published after subscribing).
    const watcher = await newBus('watcher');
    const depth: DepthMetrics[] = [];
    await watcher.subscribe('out.depth', (e) => void (e.type === 'depth' && depth.push(e)));

    const bus2 = await newBus('engine-2', true);
    const second = await startEngine({ bus: bus2, group: GROUP });
    engines.push(second);
    const ethKey = `${VENUE}:${ETH}`;
    await until(() => second.core.clock >= lastTs[BTC] && second.books.has(ethKey), 30_000, 'second engine rebuilt');
    for (const [symbol, k] of [
      [BTC, key],
      [ETH, ethKey],
    ] as const) {
      expect(second.books.get(k)!.topLevels('bid', 100)).toEqual(refs[symbol]!.levels('bid'));
      expect(second.books.get(k)!.topLevels('ask', 100)).toEqual(refs[symbol]!.levels('ask'));
    }
    expect(second.core.counters.dropped.no_snapshot).toBe(0);

    const final = (symbol: string) => depth.filter((d) => d.symbol === symbol);
    await until(() => final(BTC).at(-1)?.ts === lastTs[BTC] && final(ETH).length > 0, 10_000, 'depth from the second engine');
    await sleep(500);
    const btc = final(BTC);
    // BTC: depth only for the deltas published while no engine ran — nothing from the replayed phase 1.
    expect(btc.every((d) => d.ts > phase1BtcTs)).toBe(true);
    expect(btc.at(-1)).toMatchObject({ bestBid: refs[BTC]!.levels('bid')[0]![0], bestAsk: refs[BTC]!.levels('ask')[0]![0] });
    // ETH had only replayed events: its rebuilt state is published once, at its last event's time.
    expect(final(ETH).map((d) => d.ts)).toEqual([ethTs]);
    expect(final(ETH)[0]).toMatchObject({ bestBid: refs[ETH]!.levels('bid')[0]![0], bestAsk: refs[ETH]!.levels('ask')[0]![0] });
  }, 120_000);

  it('takes over an alert the previous instance left open and resolves it under the same id', async () => {
    const group = `${GROUP}-alerts`;
    // Engines of the test above read the same topics: they would raise the same alert a second time.
    for (const e of engines.splice(0)) await e.close();
    const producer = await newBus('alert-producer');
    const watcher = await newBus('alert-watcher');
    const alerts: Alert[] = [];
    await watcher.subscribe('out.alert', (a) => void alerts.push(a));
    let seq = 0;
    const status = (state: FeedStatus['state'], ts: number, reason = ''): void => {
      const ev: FeedStatus = { type: 'status', venue: VENUE, symbol: ETH, ts, recvTs: ts, seq: ++seq, state, reason, resyncs: 0, gaps: 0, checksumFailures: 0, reconnects: 0, lagMs: null };
      producer.publish('md.status', `${VENUE}:${ETH}`, ev);
    };
    const t = Date.now();

    const bus1 = await newBus('alerts-engine-1', true);
    const first = await startEngine({ bus: bus1, group });
    engines.push(first);
    status('stale', t, 'no depth for 10 s');
    await producer.flush();
    await until(() => alerts.some((a) => a.kind === 'feed' && a.state === 'open'), 30_000, 'the first engine opens a feed alert');
    const opened = alerts.find((a) => a.state === 'open')!;
    // The first engine dies with the alert open (close() resolves nothing, as a crash would not).
    await first.close();
    await bus1.close();

    const bus2 = await newBus('alerts-engine-2', true);
    const second = await startEngine({ bus: bus2, group });
    engines.push(second);
    // Give the read-back a moment, then the feed recovers.
    await sleep(1_000);
    status('synced', t + 5_000);
    await producer.flush();
    await until(() => alerts.some((a) => a.state === 'resolved'), 30_000, 'the second engine resolves the alert');
    await sleep(500);
    const resolved = alerts.filter((a) => a.state === 'resolved');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ id: opened.id, startTs: opened.startTs, endTs: t + 5_000, seq: opened.seq + 1 });
    // No second alert was opened for the same stream.
    expect(alerts.filter((a) => a.state === 'open').map((a) => a.id)).toEqual([opened.id]);
  }, 120_000);
});
