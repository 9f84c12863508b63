import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { VenueId } from '@depthwatch/schemas';
import { startIngest, type IngestStage, type VenueConfig } from './collector.ts';
import { startSimulatedVenues, type SimulatedVenues } from './sim/index.ts';
import { FAST, Recorder, sleep, waitFor } from './sim/harness.ts';
import { binanceFutures } from './venues/binance-futures.ts';
import type { VenueAdapter } from './sync/adapter.ts';

/**
 * End to end over real sockets: simulated Binance venues → collector → memory bus. A consumer-side
 * recorder rebuilds every book from the published events and checks that nothing is published for
 * a symbol outside 'synced'/'stale'. At checkpoints the market is paused and the rebuilt book must
 * equal the simulator's exact book.
 */

let sim: SimulatedVenues | null = null;
let ingest: IngestStage | null = null;
afterEach(async () => {
  await ingest?.close();
  await sim?.close();
  ingest = null;
  sim = null;
});

async function setup(venues: VenueId[], cfg: Partial<VenueConfig> = {}, adapters?: Record<string, VenueAdapter>) {
  sim = await startSimulatedVenues({ venues, scenario: 'calm', timeScale: 10, paused: true, seed: 7 });
  const bus = new MemoryBus();
  const rec = new Recorder();
  await rec.attach(bus);
  ingest = await startIngest({
    bus,
    adapters,
    venues: venues.map((venue) => ({ venue, restUrl: sim!.endpoints[venue]!.restUrl, wsUrl: sim!.endpoints[venue]!.wsUrl, ...FAST, ...cfg })),
  });
  const ing = ingest;
  await waitFor('all sockets open', () => [...ing.sessions.values()].every((s) => s.connections.every((c) => c.open)));
  sim.market.resume();
  await waitFor('ready', () => ing.health().ready);
  return { sim, ingest: ing, rec };
}

/** Near-touch depth the collector must know exactly (levels beyond a 1000-level snapshot are unknowable). */
const DEPTH = 400;

async function checkpoint(s: SimulatedVenues, ing: IngestStage, rec: Recorder, venue: VenueId, symbols: string[]): Promise<void> {
  s.market.pause();
  try {
    for (const symbol of symbols) {
      const want = () => {
        const b = s.market.book(venue, symbol);
        return JSON.stringify({ bids: b.bids.slice(0, DEPTH), asks: b.asks.slice(0, DEPTH) });
      };
      await waitFor(`${venue} ${symbol} book to match the sim`, () => JSON.stringify(rec.top(venue, symbol, DEPTH)) === want(), 4000);
      const own = ing.book(venue, symbol)!;
      expect(JSON.stringify({ bids: own.bids.slice(0, DEPTH), asks: own.asks.slice(0, DEPTH) })).toBe(want());
    }
  } finally {
    s.market.resume();
  }
}

const FUT = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'];

describe('collector against the simulated Binance USD-M venue', () => {
  it('stays exactly in sync through a time-compressed cascade and reconciles trade and liquidation counts', async () => {
    const { sim: s, ingest: ing, rec } = await setup(['binance-futures']);
    s.market.startCascade();
    for (let i = 0; i < 4; i++) {
      await sleep(600);
      await checkpoint(s, ing, rec, 'binance-futures', FUT);
    }
    s.market.pause();
    await sleep(150);
    const sent = s.sent('binance-futures');
    for (const sym of FUT) {
      expect(rec.count('binance-futures', sym, 'trade'), sym).toBe(s.market.counters.trades[`binance-futures:${sym}`]);
      expect(rec.count('binance-futures', sym, 'trade')).toBe(sent.trades[sym]);
      expect(rec.count('binance-futures', sym, 'liquidation'), sym).toBe(sent.liquidations[sym]);
      expect(rec.count('binance-futures', sym, 'ticker')).toBeGreaterThan(0);
      expect(ing.sessions.get('binance-futures')!.feeds.get(sym)!.stats.resyncs).toBe(0);
    }
    // The cascade produced liquidations; forceOrder sampling makes the wire a lower bound of the model.
    const liqs = FUT.reduce((n, sym) => n + sent.liquidations[sym], 0);
    expect(liqs).toBeGreaterThan(0);
    expect(liqs).toBeLessThanOrEqual(FUT.reduce((n, sym) => n + s.market.counters.liquidations[`binance-futures:${sym}`], 0));
    expect(rec.violations).toEqual([]);
  });

  it('recovers from every injected fault, counting each, and matches the sim book after each', async () => {
    const { sim: s, ingest: ing, rec } = await setup(['binance-futures'], { staleAfterMs: { book: 400 } });
    const f = s.faults('binance-futures');
    const session = ing.sessions.get('binance-futures')!;
    const btc = session.feeds.get('BTC/USDT:USDT')!;
    const eth = session.feeds.get('ETH/USDT:USDT')!;
    const synced = () => ing.health().ready;

    // 1. sequence gap on one symbol: only that symbol resyncs
    const ethResyncs = eth.stats.resyncs;
    f.sequenceGap('BTC/USDT:USDT');
    await waitFor('gap detected', () => btc.stats.gaps === 1);
    await waitFor('resynced', synced);
    expect(eth.stats.resyncs).toBe(ethResyncs);
    await checkpoint(s, ing, rec, 'binance-futures', FUT);

    // 2. snapshot/diff race: the snapshot served for the resync is older than the buffered events
    const reqs = session.counters.snapshotRequests;
    f.snapshotRace('BTC/USDT:USDT');
    await sleep(300);
    f.sequenceGap('BTC/USDT:USDT');
    await waitFor('gap 2', () => btc.stats.gaps === 2);
    await waitFor('resynced after race', synced);
    expect(session.counters.snapshotRequests - reqs).toBeGreaterThanOrEqual(2); // stale one, then a fresh one
    expect(btc.stats.snapshotRefetches).toBe(1);
    await checkpoint(s, ing, rec, 'binance-futures', FUT);

    // 3. malformed and 4. truncated depth frames: counted, that symbol resynced, nothing else disturbed
    for (const fault of [f.malformedFrame, f.truncatedFrame]) {
      const errors = session.counters.parseErrors;
      const resyncs = FUT.map((x) => session.feeds.get(x)!.stats.resyncs);
      fault('@depth');
      await waitFor('parse error counted', () => session.counters.parseErrors === errors + 1);
      await waitFor('resynced after bad frame', synced);
      const after = FUT.map((x) => session.feeds.get(x)!.stats.resyncs);
      expect(after.reduce((a, b) => a + b) - resyncs.reduce((a, b) => a + b)).toBe(1);
      await checkpoint(s, ing, rec, 'binance-futures', FUT);
    }

    // 5. stalled feed: the book goes stale (exchange timestamps stop advancing), then fresh again
    f.stall(900);
    await waitFor('stale status', () => btc.state === 'stale');
    await waitFor('fresh again', () => btc.state === 'synced', 3000);
    await checkpoint(s, ing, rec, 'binance-futures', FUT);

    // 6. disconnect: reconnect and resync every symbol
    const opens = session.connections.map((c) => c.opens);
    f.disconnectAll();
    await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after reconnect', synced);
    expect(btc.stats.reconnects).toBeGreaterThanOrEqual(1);
    await checkpoint(s, ing, rec, 'binance-futures', FUT);

    // 7. snapshots keep failing: bounded retries, a 'down' status, then recovery
    f.failSnapshots(4);
    f.sequenceGap('ETH/USDT:USDT');
    await waitFor('down status', () => rec.statuses.some((x) => x.symbol === 'ETH/USDT:USDT' && x.state === 'down' && x.reason.includes('snapshot failing')));
    await waitFor('recovered', synced);
    expect(session.counters.snapshotFailures).toBe(4);
    await checkpoint(s, ing, rec, 'binance-futures', FUT);

    expect(rec.violations).toEqual([]);
  }, 30_000);

  it('detects a silent markPrice stream on an un-routed connection', async () => {
    const unrouted: VenueAdapter = {
      ...binanceFutures,
      streams: (symbol, vs) => binanceFutures.streams(symbol, vs).map((s) => ({ ...s, route: '/stream' })),
    };
    const { ingest: ing } = await setup(['binance-futures'], { symbols: ['BTC/USDT:USDT'], staleAfterMs: { ticker: 300 } }, { 'binance-futures': unrouted });
    const feed = ing.sessions.get('binance-futures')!.feeds.get('BTC/USDT:USDT')!;
    await waitFor('ticker silence detected', () => feed.state === 'stale' && feed.reason.startsWith('ticker'));
    expect(ing.health().ready).toBe(false);
  });
});

describe('collector against the simulated Binance spot venue', () => {
  it('syncs, answers server pings with the same payload, and restarts on U > local + 1', async () => {
    const { sim: s, ingest: ing, rec } = await setup(['binance']);
    const f = s.faults('binance');
    f.ping('payload-123');
    await waitFor('pong echoed', () => f.pongs().includes('payload-123'));
    const session = ing.sessions.get('binance')!;
    const btc = session.feeds.get('BTC/USDT')!;
    f.sequenceGap('BTC/USDT');
    await waitFor('gap', () => btc.stats.gaps === 1);
    await waitFor('resynced', () => ing.health().ready);
    // Spot snapshots carry 5000 levels: the whole simulated book is known.
    await checkpoint(s, ing, rec, 'binance', ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
    const full = s.market.book('binance', 'ETH/USDT');
    expect(rec.top('binance', 'ETH/USDT', 100_000)!.bids.length).toBe(full.bids.length);
    s.market.pause();
    await sleep(100);
    for (const sym of ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']) expect(rec.count('binance', sym, 'trade')).toBe(s.sent('binance').trades[sym]);
    expect(rec.violations).toEqual([]);
  });
});
