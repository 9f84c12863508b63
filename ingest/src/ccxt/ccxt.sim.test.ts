import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { FeedStatus, Level, Liquidation, MarketEvent, Trade } from '@depthwatch/schemas';
import { startIngest, type IngestStage } from '../collector.ts';
import { startSimulatedVenues, type SimulatedVenues } from '../sim/index.ts';
import { FAST, sleep, waitFor } from '../sim/harness.ts';
import { liquidationConvention } from './normalize.ts';
import { rebuildBookFrom } from '../fixtures/replay.ts';

/**
 * End to end over real sockets, offline: ccxt pro's own `binanceusdm` class (as the fallback venue
 * `ccxt:binanceusdm`, forced) with its URLs pointed at the simulated Binance USD-M front end, beside
 * the native binance-futures collector on the same simulated venue. ccxt does Binance's sync recipe
 * itself (REST snapshot + buffered diffs + pu chain); markets come from our shipped snapshot. At
 * checkpoints the market is paused and the book rebuilt from what the fallback published must equal
 * the simulator's exact book; trades must equal the native collector's, field by field.
 */

const CCXT = 'ccxt:binanceusdm' as const;
const NATIVE = 'binance-futures' as const;
const FUT = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'];
/** ccxt keeps a 1000-level window (its REST snapshot limit) and drops levels pushed past it: compare the near-touch book. */
const DEPTH = 300;

let sim: SimulatedVenues | null = null;
let ingest: IngestStage | null = null;
afterEach(async () => {
  await ingest?.close();
  await sim?.close();
  ingest = null;
  sim = null;
});

const top = (m: Map<number, number>, side: 'bid' | 'ask'): Level[] =>
  [...m].sort((a, b) => (side === 'bid' ? b[0] - a[0] : a[0] - b[0])).slice(0, DEPTH);

async function checkpoint(s: SimulatedVenues, ing: IngestStage, events: MarketEvent[]): Promise<void> {
  s.market.pause();
  try {
    for (const symbol of FUT) {
      const want = () => {
        const b = s.market.book(NATIVE, symbol);
        return JSON.stringify({ bids: b.bids.slice(0, DEPTH), asks: b.asks.slice(0, DEPTH) });
      };
      const rebuilt = () => {
        const b = rebuildBookFrom(events, CCXT, symbol);
        return JSON.stringify({ bids: top(b.bids, 'bid'), asks: top(b.asks, 'ask') });
      };
      await waitFor(`${symbol}: the book rebuilt from the fallback's events to match the sim`, () => rebuilt() === want(), 5000);
      const own = ing.book(CCXT, symbol)!;
      expect(JSON.stringify({ bids: own.bids.slice(0, DEPTH), asks: own.asks.slice(0, DEPTH) })).toBe(want());
    }
  } finally {
    s.market.resume();
  }
}

const tradeFields = (t: Trade) => ({ id: t.id, ts: t.ts, price: t.price, amount: t.amount, side: t.side, liquidation: t.liquidation });

describe('ccxt fallback against the simulated Binance USD-M venue', () => {
  it('publishes status, then a snapshot and deltas equal to the venue book, trades equal to the native collector, and recovers from a disconnect', async () => {
    sim = await startSimulatedVenues({ venues: [NATIVE], scenario: 'calm', timeScale: 10, paused: true, seed: 7 });
    const s = sim;
    const ep = s.endpoints[NATIVE]!;
    const f = s.faults(NATIVE);
    const bus = new MemoryBus();
    const events: MarketEvent[] = [];
    for (const t of ['md.book', 'md.trade', 'md.liquidation', 'md.ticker', 'md.status'] as const) await bus.subscribe(t, (e) => void events.push(e as MarketEvent));
    // ccxt retries a failed snapshot 3 times itself; 3 symbols × 3 failures reach the fallback (status down, backoff, re-watch).
    f.failSnapshots(9);
    ingest = await startIngest({
      bus,
      venues: [
        { venue: NATIVE, symbols: FUT, restUrl: ep.restUrl, wsUrl: ep.wsUrl, ...FAST },
        {
          venue: CCXT,
          symbols: FUT,
          channels: ['book', 'trade'],
          ...FAST,
          ccxt: {
            force: true,
            rateLimit: false, // a local simulator: no exchange weights to respect

            urls: { api: { fapiPublic: `${ep.restUrl}/fapi/v1`, ws: { future: `${ep.wsUrl}/ws` } } },
            // Binance USD-M streams aggregated trades (what the native collector and the simulator use).
            options: { watchTrades: { name: 'aggTrade' } },
          },
        },
      ],
    });
    const ing = ingest;
    const fallback = ing.fallbacks.get(CCXT)!;
    const lower = (sym: string) => sym.split(':')[0].replace('/', '').toLowerCase();
    // Both collectors subscribed to every stream before the market moves, so trade counts reconcile exactly.
    await waitFor('native and ccxt subscribed', () => FUT.every((x) => f.subscribers(`${lower(x)}@aggTrade`) === 2 && f.subscribers(`${lower(x)}@depth@100ms`) === 2), 15_000);
    // ccxt bootstraps from its REST snapshot alone (the native Binance recipe waits for a first diff: market paused).
    await waitFor('every ccxt symbol synced', () => [...fallback.feeds.values()].every((x) => x.state === 'synced'), 15_000);
    expect(fallback.marketsSource).toBe('snapshot');
    s.market.resume();
    await waitFor('every symbol synced', () => ing.health().ready, 15_000);

    // Synced only after ccxt's first book; nothing but status before it; the snapshot right after 'synced'.
    const ccxtEvents = () => events.filter((e) => e.venue === CCXT);
    for (const sym of FUT) {
      const mine = ccxtEvents().filter((e) => e.symbol === sym);
      const firstSynced = mine.findIndex((e) => e.type === 'status' && e.state === 'synced');
      expect(firstSynced, sym).toBeGreaterThan(0);
      expect(mine.slice(0, firstSynced).every((e) => e.type === 'status'), sym).toBe(true);
      expect(mine[firstSynced + 1]?.type, sym).toBe('book_snapshot');
    }
    // The failed snapshots surfaced as a down status with ccxt's reason, then recovered.
    const downs = ccxtEvents().filter((e): e is FeedStatus => e.type === 'status' && e.state === 'down');
    expect(downs.length).toBeGreaterThan(0);
    expect(downs[0].reason).toMatch(/503|unable to process|Internal error/i);
    expect(fallback.counters.errors).toBeGreaterThan(0);

    for (let i = 0; i < 3; i++) {
      await sleep(700);
      await checkpoint(s, ing, events);
    }
    expect(events.some((e) => e.venue === CCXT && e.type === 'book_delta')).toBe(true);

    // Trades: every one the venue sent, identical to the native collector's (ids, times, prices, amounts, sides).
    s.market.pause();
    const sent = s.sent(NATIVE).trades;
    const tradesOf = (venue: string, sym: string) => events.filter((e): e is Trade => e.type === 'trade' && e.venue === venue && e.symbol === sym);
    for (const sym of FUT) {
      await waitFor(`${sym} trades`, () => tradesOf(CCXT, sym).length === sent[sym] && tradesOf(NATIVE, sym).length === sent[sym], 3000).catch(() => {});
      expect(tradesOf(CCXT, sym).length, sym).toBe(sent[sym]);
      expect(tradesOf(CCXT, sym).map(tradeFields), sym).toEqual(tradesOf(NATIVE, sym).map(tradeFields));
    }
    expect(FUT.reduce((n, sym) => n + sent[sym], 0)).toBeGreaterThan(20);
    s.market.resume();

    // Injected disconnect: down with the reason, a reconnect counted, a fresh snapshot, the book equal again.
    const snapshotsBefore = ccxtEvents().filter((e) => e.type === 'book_snapshot').length;
    const statusesBefore = ccxtEvents().filter((e) => e.type === 'status').length;
    const reconnects = fallback.counters.reconnects;
    f.disconnectAll();
    await waitFor('ccxt reconnected', () => fallback.counters.reconnects > reconnects, 5000);
    await waitFor('resynced after the disconnect', () => ing.health().ready, 15_000);
    const after = ccxtEvents().filter((e): e is FeedStatus => e.type === 'status').slice(statusesBefore);
    for (const sym of FUT) {
      const states = after.filter((e) => e.symbol === sym).map((e) => e.state);
      expect(states, sym).toEqual(expect.arrayContaining(['down', 'syncing', 'synced']));
      expect(states.indexOf('down'), sym).toBeLessThan(states.lastIndexOf('synced'));
      expect(fallback.feeds.get(sym)!.stats.reconnects, sym).toBeGreaterThanOrEqual(1);
    }
    expect(after.find((e) => e.state === 'down')!.reason).toMatch(/^disconnected: NetworkError/);
    expect(ccxtEvents().filter((e) => e.type === 'book_snapshot').length).toBeGreaterThanOrEqual(snapshotsBefore + FUT.length);
    await sleep(500);
    await checkpoint(s, ing, events);
    await checkpoint(s, ing, events);
  });

  it('streams liquidations where the side convention is known: equal to the native collector\'s through a cascade', async () => {
    sim = await startSimulatedVenues({ venues: [NATIVE], scenario: 'calm', timeScale: 10, paused: true, seed: 11 });
    const s = sim;
    const ep = s.endpoints[NATIVE]!;
    const bus = new MemoryBus();
    const liqs: Liquidation[] = [];
    await bus.subscribe('md.liquidation', (e) => void liqs.push(e));
    ingest = await startIngest({
      bus,
      venues: [
        { venue: NATIVE, symbols: FUT, restUrl: ep.restUrl, wsUrl: ep.wsUrl, channels: ['book', 'liquidation'], ...FAST },
        {
          venue: CCXT,
          symbols: FUT,
          channels: ['book', 'liquidation'],
          ...FAST,
          ccxt: { force: true, rateLimit: false, urls: { api: { fapiPublic: `${ep.restUrl}/fapi/v1`, ws: { future: `${ep.wsUrl}/ws` } } } },
        },
      ],
    });
    const ing = ingest;
    const fallback = ing.fallbacks.get(CCXT)!;
    expect(fallback.streamedChannels).toContain('liquidation');
    const lower = (sym: string) => sym.split(':')[0].replace('/', '').toLowerCase();
    await waitFor('native and ccxt subscribed to forceOrder', () => FUT.every((x) => s.faults(NATIVE).subscribers(`${lower(x)}@forceOrder`) === 2), 15_000);
    s.market.resume();
    await waitFor('every symbol synced', () => ing.health().ready, 15_000);
    s.market.startCascade();
    await waitFor('liquidations from both collectors', () => liqs.filter((l) => l.venue === CCXT).length >= 5, 20_000);
    await sleep(1_500);
    s.market.pause();
    await sleep(300);
    const fields = (l: Liquidation) => ({ symbol: l.symbol, ts: l.ts, liquidatedPosition: l.liquidatedPosition, price: l.price, amount: l.amount, notional: l.notional });
    const of = (venue: string) => liqs.filter((l) => l.venue === venue).map(fields).sort((a, b) => a.ts - b.ts || a.symbol.localeCompare(b.symbol));
    const sent = FUT.reduce((n, sym) => n + s.sent(NATIVE).liquidations[sym], 0);
    expect(of(NATIVE)).toHaveLength(sent);
    expect(of(CCXT)).toEqual(of(NATIVE));
    expect(new Set(of(CCXT).map((l) => l.liquidatedPosition)).size).toBeGreaterThan(0);
    expect(liqs.filter((l) => l.venue === CCXT).every((l) => l.completeness === 'lower_bound')).toBe(true);
  });

  it('offers no liquidation channel where ccxt\'s side field has no known meaning', () => {
    expect(liquidationConvention('binanceusdm')).toBe('order');
    expect(liquidationConvention('bybiteu')).toBe('position');
    expect(liquidationConvention('lighter')).toBeNull();
    expect(liquidationConvention('__proto__')).toBeNull();
  });
});
