import { describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { Level, MarketEvent } from '@depthwatch/schemas';
import { SymbolFeed } from '../sync/symbol-feed.ts';
import { rebuildBookFrom } from '../fixtures/replay.ts';
import { Prng } from '../sim/prng.ts';
import type { MarketInfo } from '../metadata/index.ts';
import { bookFromCcxt, levelsFromCcxt, tradeFromCcxt } from './normalize.ts';
import { CcxtVenueError, checkCcxtVenue, resolveCcxtVenue } from './venue-ids.ts';
import { snapshotMarkets, toCcxtMarket } from './markets.ts';
import { CcxtSession } from './session.ts';

const VENUE = 'ccxt:gate' as const;
const SYMBOL = 'BTC/USDT:USDT';
const linear: MarketInfo = { venue: VENUE, symbol: SYMBOL, venueSymbol: 'BTC_USDT', type: 'swap', base: 'BTC', quote: 'USDT', settle: 'USDT', linear: true, inverse: false, contractSize: 0.0001, tickSize: 0.1, lotSize: 1 };
const inverse: MarketInfo = { ...linear, symbol: 'BTC/USD:BTC', venueSymbol: 'BTC_USD', quote: 'USD', settle: 'BTC', linear: false, inverse: true, contractSize: 100 };

/** A ccxt-like book: rows [price, contracts(, count)] sorted best first, as ccxt's OrderBookSide holds them. */
function randomBook(rng: Prng, mid: number): { bids: number[][]; asks: number[][]; timestamp: number } {
  const side = (dir: 1 | -1) => {
    const rows: number[][] = [];
    for (let i = 1; i <= 60; i++) if (rng.next() < 0.6) rows.push([Number((mid + dir * i * 0.5).toFixed(1)), 1 + rng.int(50), 1]);
    return rows;
  };
  return { bids: side(-1), asks: side(1), timestamp: 1_758_000_000_000 + rng.int(1000) };
}

function feedFor(bus: MemoryBus): SymbolFeed {
  const feed = new SymbolFeed({
    venue: VENUE, symbol: SYMBOL, bus,
    rules: { bootstrap: 'full', next: () => 'apply', depthLimit: 0 },
    channels: new Set(['book', 'trade']),
    staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: Infinity },
    snapshotIntervalMs: 60_000, enforceChecksum: false, now: () => 1_758_000_000_000,
    requestSnapshot: () => {}, lagSample: () => {},
  });
  feed.streamUp(['book', 'trade'], false);
  return feed;
}

const asMap = (levels: Level[]) => new Map(levels);

describe('ccxt fallback: book diffing', () => {
  it('publishes deltas that turn the consumer book into each new ccxt book exactly, and nothing for unchanged levels', async () => {
    const rng = new Prng(11);
    const bus = new MemoryBus();
    const events: MarketEvent[] = [];
    for (const t of ['md.book', 'md.status', 'md.trade'] as const) await bus.subscribe(t, (e) => void events.push(e as MarketEvent));
    const feed = feedFor(bus);
    let mid = 100_000;
    let prev: { bids: Level[]; asks: Level[] } | null = null;
    for (let i = 0; i < 200; i++) {
      mid += (rng.int(5) - 2) * 0.5;
      const ob = randomBook(rng, mid);
      if (i === 50) ob.bids = []; // a side emptied and refilled
      const before = events.length;
      feed.onSnapshot(bookFromCcxt(ob, SYMBOL, linear, 1_758_000_000_500), 'in-band', 1_758_000_000_500);
      const want = { bids: levelsFromCcxt(ob.bids, linear), asks: levelsFromCcxt(ob.asks, linear) };
      const rebuilt = rebuildBookFrom(events, VENUE, SYMBOL);
      expect(rebuilt.bids, `update ${i}`).toEqual(asMap(want.bids));
      expect(rebuilt.asks, `update ${i}`).toEqual(asMap(want.asks));
      expect(feed.book()).toEqual(want);
      if (prev) {
        // Minimal: exactly the levels whose size changed, appeared or vanished.
        const delta = events.slice(before).find((e) => e.type === 'book_delta');
        const changed = (a: Level[], b: Level[]) => {
          const pa = asMap(a), pb = asMap(b);
          return new Set([...pa.keys(), ...pb.keys()].filter((p) => pa.get(p) !== pb.get(p))).size;
        };
        const n = changed(prev.bids, want.bids) + changed(prev.asks, want.asks);
        if (n === 0) expect(delta).toBeUndefined();
        else if (delta?.type === 'book_delta') expect(delta.bids.length + delta.asks.length).toBe(n);
        else throw new Error(`update ${i}: no delta for ${n} changed levels`);
      }
      prev = want;
    }
    // Status first, then one snapshot, then only deltas.
    const book = events.filter((e) => e.type === 'book_snapshot' || e.type === 'book_delta');
    expect(events[0]).toMatchObject({ type: 'status', state: 'syncing' });
    expect(events[1]).toMatchObject({ type: 'status', state: 'synced' });
    expect(book[0].type).toBe('book_snapshot');
    expect(book.slice(1).every((e) => e.type === 'book_delta')).toBe(true);
  });

  it('holds trades until the first book, then publishes them in order after the snapshot', async () => {
    const bus = new MemoryBus();
    const events: MarketEvent[] = [];
    for (const t of ['md.book', 'md.status', 'md.trade'] as const) await bus.subscribe(t, (e) => void events.push(e as MarketEvent));
    const feed = feedFor(bus);
    feed.onTrade(tradeFromCcxt({ id: '7', timestamp: 1, price: 100_000, amount: 3, side: 'sell' }, SYMBOL, linear, 2), 2);
    expect(events.filter((e) => e.type === 'trade')).toEqual([]);
    feed.onSnapshot(bookFromCcxt(randomBook(new Prng(1), 100_000), SYMBOL, linear, 3), 'in-band', 3);
    expect(events.map((e) => e.type)).toEqual(['status', 'status', 'book_snapshot', 'trade']);
    expect(events[3]).toMatchObject({ id: '7', price: 100_000, amount: 0.0003, side: 'sell', liquidation: false });
  });

  it('converts contracts to base units: linear × contractSize, inverse × contractSize ÷ price', () => {
    expect(levelsFromCcxt([[100_000, 25, 3]], linear)).toEqual([[100_000, 0.0025]]);
    expect(levelsFromCcxt([[50_000, 10]], inverse)).toEqual([[50_000, 0.02]]); // 10 × 100 USD at 50 000
    expect(levelsFromCcxt([[50_000, 0]], linear)).toEqual([]);
    expect(tradeFromCcxt({ id: 'a', timestamp: 5, price: 40_000, amount: 8, side: 'buy' }, 'BTC/USD:BTC', inverse, 9).amount).toBe(0.02);
    expect(() => tradeFromCcxt({ id: 'a', price: 1, amount: 1 }, SYMBOL, linear, 9)).toThrow(/without a taker side/);
    // No exchange id: a stable synthetic one.
    expect(tradeFromCcxt({ timestamp: 5, price: 2, amount: 1, side: 'buy' }, SYMBOL, linear, 9).id).toBe('5:2:1');
  });
});

describe('ccxt fallback: venue ids', () => {
  const PRO = ['binance', 'binanceusdm', 'gate', 'gateeu', 'kucoin'];
  it('accepts ccxt pro exchanges that no native venue covers', () => {
    expect(checkCcxtVenue('ccxt:gate', PRO)).toBe('gate');
    expect(checkCcxtVenue('ccxt:kucoin', PRO)).toBe('kucoin');
    // A native venue's ccxt id only when forced.
    expect(checkCcxtVenue('ccxt:binanceusdm', PRO, { force: true })).toBe('binanceusdm');
  });

  it.each([
    ['ccxt:Gate', /is not a ccxt venue id; venue ids are .*ccxt:<exchange id>/],
    ['gate', /is not a ccxt venue id/],
    ['ccxt:gat', /pro has no exchange "gat" \(did you mean ccxt:gate, ccxt:gateeu\?\)/],
    ['ccxt:nasdaq', /pro has no exchange "nasdaq"; ccxt pro exchanges: binance, binanceusdm/],
    ['ccxt:binanceusdm', /"binanceusdm" is ccxt's id for binance-futures, which has a native collector; use the venue binance-futures, or force/],
    ['ccxt:binance', /ccxt's id for binance,/],
  ])('refuses %j with a clear error', (venue, message) => {
    expect(() => checkCcxtVenue(venue, PRO)).toThrow(CcxtVenueError);
    expect(() => checkCcxtVenue(venue, PRO)).toThrow(message);
  });

  it('checks against the installed ccxt pro list, and the session refuses configs it cannot honour', async () => {
    await expect(resolveCcxtVenue('ccxt:gate')).resolves.toBe('gate');
    await expect(resolveCcxtVenue('ccxt:gatex')).rejects.toThrow(/ccxt 4\.\d+\.\d+ pro has no exchange "gatex"/);
    await expect(resolveCcxtVenue('ccxt:okx')).rejects.toThrow(/native collector/);
    const bus = new MemoryBus();
    await expect(CcxtSession.create({ venue: 'ccxt:gate', symbols: [] }, bus)).rejects.toThrow(/needs its symbols listed/);
    await expect(CcxtSession.create({ venue: 'ccxt:gate', symbols: [SYMBOL], wsUrl: 'ws://x' }, bus)).rejects.toThrow(/ccxt\.urls/);
  });
});

describe('ccxt fallback: shipped market metadata', () => {
  it('describes a forced native exchange with the native entries, relabelled, in ccxt market form', () => {
    const m = snapshotMarkets('ccxt:binanceusdm', 'binanceusdm');
    expect(m.map((x) => x.symbol)).toEqual(['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT']);
    expect(m.every((x) => x.venue === 'ccxt:binanceusdm')).toBe(true);
    expect(toCcxtMarket(m[0])).toMatchObject({ id: 'BTCUSDT', lowercaseId: 'btcusdt', type: 'swap', contract: true, linear: true, swap: true, spot: false, contractSize: 1 });
    expect(snapshotMarkets('ccxt:gate', 'gate')).toEqual([]);
  });

  it('marks a symbol the markets do not list as down with the reason, without touching the network', async () => {
    const bus = new MemoryBus();
    const states: string[] = [];
    await bus.subscribe('md.status', (e) => void states.push(`${e.state}: ${e.reason}`));
    const s = await CcxtSession.create({ venue: 'ccxt:binanceusdm', symbols: ['DOGE/USDT:USDT'], ccxt: { force: true, markets: 'snapshot' } }, bus);
    s.start();
    const until = Date.now() + 5000;
    while (states.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    await s.close();
    expect(states).toEqual(['down: DOGE/USDT:USDT is not listed by ccxt binanceusdm (markets from snapshot)']);
  });
});
