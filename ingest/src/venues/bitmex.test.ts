import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Trade } from '@depthwatch/schemas';
import type { ParseContext } from '../sync/adapter.ts';
import { marketInfo, registerMarkets, type MarketInfo } from '../metadata/index.ts';
import { FIXTURES_DIR, readWsFrames } from '../fixtures/cryptofeed.ts';
import { rebuildBook, replay } from '../fixtures/replay.ts';
import { toBase } from './util.ts';
import { bitmex } from './bitmex.ts';

/** A fresh ParseContext = a fresh session (the adapter's id maps are per context). */
function context(): ParseContext {
  return {
    recvTs: 1758000000300,
    symbolOf: (vs) => ({ XBTUSD: 'BTC/USD:BTC', ETHUSDT: 'ETH/USDT:USDT' })[vs],
    market: (s) => marketInfo('bitmex', s),
  };
}
const table = (t: string, action: string, data: object[], extra: object = {}) => JSON.stringify({ table: t, action, ...extra, data });
const inv = (contracts: number, price: number) => toBase(contracts, 1, true, price);

describe('BitMEX message mapping (venues.md §10 shapes)', () => {
  it('orderBookL2: rows before the partial are dropped; partial is the snapshot; insert/update/delete in base units', () => {
    const ctx = context();
    const p = bitmex.parse.bind(bitmex);
    expect(p(table('orderBookL2', 'update', [{ symbol: 'XBTUSD', id: 1, side: 'Sell', size: 5, price: 115000.5 }]), ctx)).toEqual([]);
    const [snap] = p(
      table('orderBookL2', 'partial', [
        { symbol: 'XBTUSD', id: 17999992000, side: 'Sell', size: 250000, price: 115000.5 },
        { symbol: 'XBTUSD', id: 17999992002, side: 'Buy', size: 115000, price: 114999.5 },
      ], { keys: ['symbol', 'id', 'side'], filter: { symbol: 'XBTUSD' } }),
      ctx,
    );
    expect(snap).toEqual({ kind: 'book_snapshot', symbol: 'BTC/USD:BTC', ts: ctx.recvTs, bids: [[114999.5, inv(115000, 114999.5)]], asks: [[115000.5, inv(250000, 115000.5)]], id: null });
    const [ins] = p(table('orderBookL2', 'insert', [{ symbol: 'XBTUSD', id: 17999992004, side: 'Buy', size: 1000, price: 114998.5, timestamp: '2026-09-16T05:20:00.100Z' }]), ctx);
    expect(ins).toMatchObject({ kind: 'book_diff', bids: [[114998.5, inv(1000, 114998.5)]], asks: [], strict: false, ts: Date.parse('2026-09-16T05:20:00.100Z') });
    // 2023+ update rows carry price; 2021 rows only the id (resolved through the id map).
    const [upd] = p(table('orderBookL2', 'update', [{ symbol: 'XBTUSD', id: 17999992000, side: 'Sell', size: 250100, price: 115000.5, timestamp: '2026-09-16T05:20:00.123Z' }]), ctx);
    expect(upd).toMatchObject({ kind: 'book_diff', asks: [[115000.5, inv(250100, 115000.5)]], strict: true });
    const [legacy] = p(table('orderBookL2', 'update', [{ symbol: 'XBTUSD', id: 17999992002, side: 'Buy', size: 2300 }]), ctx);
    expect(legacy).toMatchObject({ bids: [[114999.5, inv(2300, 114999.5)]], strict: true });
    const [del] = p(table('orderBookL2', 'delete', [{ symbol: 'XBTUSD', id: 17999992004, side: 'Buy' }]), ctx);
    expect(del).toMatchObject({ bids: [[114998.5, 0]], strict: true });
  });

  it('update or delete for an unknown id is corruption: throws for that symbol (resubscribe), then drops rows until the next partial', () => {
    const ctx = context();
    bitmex.parse(table('orderBookL2', 'partial', [{ symbol: 'XBTUSD', id: 1, side: 'Sell', size: 100, price: 115000 }], { filter: { symbol: 'XBTUSD' } }), ctx);
    try {
      bitmex.parse(table('orderBookL2', 'update', [{ symbol: 'XBTUSD', id: 2, side: 'Sell', size: 5 }]), ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ symbol: 'BTC/USD:BTC', channel: 'book', message: expect.stringMatching(/unknown id Sell 2/) });
    }
    expect(bitmex.parse(table('orderBookL2', 'delete', [{ symbol: 'XBTUSD', id: 1, side: 'Sell' }]), ctx)).toEqual([]);
    const [stream] = bitmex.streams('BTC/USD:BTC', 'XBTUSD');
    expect(bitmex.resubscribe!(stream)).toEqual(['{"op":"unsubscribe","args":["orderBookL2:XBTUSD"]}', '{"op":"subscribe","args":["orderBookL2:XBTUSD"]}']);
    // An empty partial (no rows) still resets the symbol: named by the filter.
    const [snap] = bitmex.parse(table('orderBookL2', 'partial', [], { filter: { symbol: 'XBTUSD' } }), ctx);
    expect(snap).toMatchObject({ kind: 'book_snapshot', bids: [], asks: [] });
  });

  it('a truncated book frame or an unsubscribe ack also invalidates the id map; welcome resets every book', () => {
    const ctx = context();
    const partial = table('orderBookL2', 'partial', [{ symbol: 'XBTUSD', id: 1, side: 'Sell', size: 100, price: 115000 }], { filter: { symbol: 'XBTUSD' } });
    const ins = table('orderBookL2', 'insert', [{ symbol: 'XBTUSD', id: 3, side: 'Sell', size: 1, price: 115001 }]);
    for (const reset of [() => expect(() => bitmex.parse(ins.slice(0, 75), ctx)).toThrow(), () => bitmex.parse('{"success":true,"unsubscribe":"orderBookL2:XBTUSD"}', ctx), () => bitmex.parse('{"info":"Welcome to the BitMEX Realtime API.","version":"2.0"}', ctx)]) {
      bitmex.parse(partial, ctx);
      expect(bitmex.parse(ins, ctx)).toHaveLength(1);
      reset();
      expect(bitmex.parse(ins, ctx)).toEqual([]);
    }
    expect(bitmex.identify(ins.slice(0, 70))).toEqual({ venueSymbol: 'XBTUSD', channel: 'book' });
  });

  it('trade: side is the taker; the partial is deduped by trdMatchID; linear sizes × contract size', () => {
    const ctx = context();
    const row = { timestamp: '2026-09-16T05:20:00.200Z', symbol: 'XBTUSD', side: 'Buy', size: 1200, price: 115000.5, tickDirection: 'PlusTick', trdMatchID: '5f4ecd49-f87f-41c0-06e3-4a9405b9cdde', grossValue: 1043478, homeNotional: 0.01043478, foreignNotional: 1200 };
    const [t] = bitmex.parse(table('trade', 'insert', [row]), ctx);
    expect(t).toEqual({ kind: 'trade', symbol: 'BTC/USD:BTC', ts: Date.parse(row.timestamp), id: row.trdMatchID, price: 115000.5, amount: inv(1200, 115000.5), side: 'buy', liquidation: false });
    const older = { ...row, trdMatchID: 'older', side: 'Sell' };
    expect(bitmex.parse(table('trade', 'partial', [older, row]), ctx)).toMatchObject([{ id: 'older', side: 'sell' }]);
    const [eth] = bitmex.parse(table('trade', 'insert', [{ ...row, symbol: 'ETHUSDT', price: 4500, size: 250000, trdMatchID: 'e1' }]), ctx);
    // ETHUSDT: 1 contract = 1e-5 ETH (1 / underlyingToPositionMultiplier; see ingest/src/metadata/markets.json source).
    expect(eth).toMatchObject({ symbol: 'ETH/USDT:USDT', amount: 2.5, price: 4500 });
  });

  it('liquidation: Sell = long liquidated; fills inferred from leavesQty deltas, delete completes; lower_bound', () => {
    const ctx = context();
    const id = '8b4a95db-815a-f93a-c9a2-ffbbabeddbac';
    expect(bitmex.parse(table('liquidation', 'insert', [{ orderID: id, symbol: 'XBTUSD', side: 'Sell', price: 114700.0, leavesQty: 50000 }]), ctx)).toEqual([]);
    const [l1] = bitmex.parse(table('liquidation', 'update', [{ orderID: id, symbol: 'XBTUSD', leavesQty: 20000 }]), ctx);
    expect(l1).toEqual({ kind: 'liquidation', symbol: 'BTC/USD:BTC', ts: ctx.recvTs, id: `${id}-20000`, liquidatedPosition: 'long', price: 114700, amount: inv(30000, 114700), notional: 30000, completeness: 'lower_bound' });
    const [l2] = bitmex.parse(table('liquidation', 'delete', [{ orderID: id, symbol: 'XBTUSD' }]), ctx);
    expect(l2).toMatchObject({ id: `${id}-0`, amount: inv(20000, 114700), notional: 20000 });
    // A buy liquidation order closes a short; unknown orders (resting before we subscribed) are skipped.
    bitmex.parse(table('liquidation', 'partial', [{ orderID: 'b', symbol: 'ETHUSDT', side: 'Buy', price: 4600, leavesQty: 1000000 }]), ctx);
    expect(bitmex.parse(table('liquidation', 'delete', [{ orderID: 'b', symbol: 'ETHUSDT' }]), ctx)).toMatchObject([{ liquidatedPosition: 'short', amount: 10, notional: 46000 }]);
    expect(bitmex.parse(table('liquidation', 'update', [{ orderID: 'zzz', symbol: 'XBTUSD', leavesQty: 1 }]), ctx)).toEqual([]);
  });

  it('instrument: partial then updates with only changed fields (merged by the framework); inverse OI valued at the mark', () => {
    const ctx = context();
    const [p] = bitmex.parse(
      table('instrument', 'partial', [{ symbol: 'XBTUSD', markPrice: 115000, indicativeSettlePrice: 114990, lastPrice: 115001, fundingRate: 0.0001, fundingTimestamp: '2026-09-16T12:00:00.000Z', openInterest: 460000000, timestamp: '2026-09-16T05:20:00.000Z' }]),
      ctx,
    );
    expect(p).toEqual({ kind: 'ticker', symbol: 'BTC/USD:BTC', ts: Date.parse('2026-09-16T05:20:00.000Z'), markPrice: 115000, indexPrice: 114990, lastPrice: 115001, fundingRate: 0.0001, nextFundingTime: Date.parse('2026-09-16T12:00:00.000Z'), openInterest: 4000 });
    const [u] = bitmex.parse(table('instrument', 'update', [{ symbol: 'XBTUSD', fundingRate: 0.0002, timestamp: '2026-09-16T05:20:01.000Z' }]), ctx);
    expect(u).toEqual({ kind: 'ticker', symbol: 'BTC/USD:BTC', ts: Date.parse('2026-09-16T05:20:01.000Z'), markPrice: undefined, indexPrice: undefined, lastPrice: undefined, fundingRate: 0.0002, nextFundingTime: undefined, openInterest: undefined });
    // The mark moved: the (unchanged) USD open interest is worth a different number of BTC.
    const [m] = bitmex.parse(table('instrument', 'update', [{ symbol: 'XBTUSD', markPrice: 92000, timestamp: '2026-09-16T05:20:02.000Z' }]), ctx);
    expect(m).toMatchObject({ markPrice: 92000, openInterest: 5000, fundingRate: undefined });
  });

  it('control traffic: text pong, welcome, acks, errors; subscribes in batches; pings with text "ping" when idle', () => {
    const ctx = context();
    expect(bitmex.parse('pong', ctx)).toEqual([{ kind: 'control', action: 'ignore', detail: 'pong' }]);
    expect(bitmex.parse('{"success":true,"subscribe":"orderBookL2:XBTUSD","request":{"op":"subscribe","args":["orderBookL2:XBTUSD"]}}', ctx)[0]).toMatchObject({ kind: 'control' });
    expect(bitmex.parse('{"status":400,"error":"Unknown table: orderBookL9","request":{"op":"subscribe","args":["orderBookL9:XBTUSD"]}}', ctx)[0]).toMatchObject({ kind: 'error', symbol: 'BTC/USD:BTC', channel: null });
    expect(bitmex.parse('{"status":400,"error":"bad","request":{"op":"subscribe","args":["orderBookL2:XBTUSD"]}}', ctx)[0]).toMatchObject({ kind: 'error', symbol: 'BTC/USD:BTC', channel: 'book' });
    const streams = bitmex.streams('BTC/USD:BTC', 'XBTUSD');
    expect(bitmex.onOpen('/realtime', streams)).toEqual(['{"op":"subscribe","args":["orderBookL2:XBTUSD","trade:XBTUSD","liquidation:XBTUSD","instrument:XBTUSD"]}']);
    expect(bitmex.heartbeat.clientPing).toEqual({ intervalMs: 5000, frame: 'ping', onlyWhenIdle: true });
    expect(bitmex.toVenueSymbol('BTC/USD:BTC')).toBe('XBTUSD');
  });
});

// ---- replay of the 2021 recording: orderBookL2 partial + insert/update/delete (ids only on update/delete), trades

describe('replay of recorded BITMEX traffic', () => {
  const ws = readWsFrames(join(FIXTURES_DIR, 'BITMEX.ws.1.0'));
  const books = ws.flatMap((r) => (r.kind === 'sent' && r.text.includes('orderBookL2') ? (JSON.parse(r.text).args as string[]) : [])).map((a) => a.split(':')[1]);
  // XBTUSD is in the shipped metadata (inverse); the others are quanto/linear contracts: sizes kept in contracts here.
  const markets: MarketInfo[] = books.map((vs) =>
    vs === 'XBTUSD'
      ? marketInfo('bitmex', 'BTC/USD:BTC')
      : { venue: 'bitmex', symbol: `${vs}/CONTRACTS:XBT`, venueSymbol: vs, type: 'swap', base: vs, quote: 'CONTRACTS', settle: 'XBT', linear: true, inverse: false, contractSize: 1, tickSize: null, lotSize: null },
  );
  registerMarkets(markets.filter((m) => m.venueSymbol !== 'XBTUSD'));
  const bySymbol = new Map(markets.map((m) => [m.venueSymbol, m]));
  const recv = ws.filter((r): r is { kind: 'recv'; ts: number; text: string } => r.kind === 'recv').map((r) => ({ ts: r.ts, msg: JSON.parse(r.text) }));
  const size = (m: MarketInfo, contracts: number, price: number) => toBase(contracts, m.contractSize, m.inverse, price);

  it('keeps every book in sync across every recorded insert/update/delete, with no false resyncs', async () => {
    const { session, events } = await replay(bitmex, markets.map((m) => m.symbol), ws);
    expect(session.counters.parseErrors).toBe(0);
    let diffs = 0;
    for (const m of markets) {
      const feed = session.feeds.get(m.symbol)!;
      expect(feed.stats.resyncs, m.symbol).toBe(0);
      expect(feed.state, m.symbol).toBe('synced');
      // Independent reference: the recorded partial and every later row, with our own id → price map.
      const ref = { Buy: new Map<number, number>(), Sell: new Map<number, number>() };
      const price = new Map<number, number>();
      let rows = 0;
      for (const { msg } of recv) {
        if (msg.table !== 'orderBookL2') continue;
        for (const row of msg.data.filter((r: { symbol: string }) => r.symbol === m.venueSymbol)) {
          const side = ref[row.side as 'Buy' | 'Sell'];
          if (msg.action === 'partial' || msg.action === 'insert') price.set(row.id, row.price);
          const p = price.get(row.id)!;
          if (msg.action === 'delete') side.delete(p);
          else side.set(p, size(m, row.size, p));
          if (msg.action !== 'partial') rows++;
        }
      }
      diffs += rows;
      const book = rebuildBook(events, m.symbol);
      const sorted = (x: Map<number, number>) => [...x].sort((a, b) => a[0] - b[0]);
      expect(sorted(book.bids), m.symbol).toEqual(sorted(ref.Buy));
      expect(sorted(book.asks), m.symbol).toEqual(sorted(ref.Sell));
      expect(sorted(feed.sync.book.bids), m.symbol).toEqual(sorted(ref.Buy));
      expect(book.bids.size + book.asks.size, m.symbol).toBeGreaterThan(0);
      if (book.bids.size && book.asks.size) expect(Math.max(...book.bids.keys())).toBeLessThan(Math.min(...book.asks.keys()));
    }
    expect(diffs).toBe(2587);
  });

  it('normalizes every recorded trade (partial deduped by trdMatchID) with exact price, size, side and time', async () => {
    const { events } = await replay(bitmex, markets.map((m) => m.symbol), ws);
    const seen = new Set<string>();
    const expected = recv
      .filter(({ msg }) => msg.table === 'trade')
      .flatMap(({ msg }) => msg.data)
      .filter((d: { trdMatchID: string }) => !seen.has(d.trdMatchID) && seen.add(d.trdMatchID))
      .map((d: { symbol: string; trdMatchID: string; price: number; size: number; side: string; timestamp: string }) => {
        const m = bySymbol.get(d.symbol)!;
        return { symbol: m.symbol, id: d.trdMatchID, price: d.price, amount: size(m, d.size, d.price), side: d.side === 'Buy' ? 'buy' : 'sell', ts: Date.parse(d.timestamp) };
      });
    expect(expected.length).toBe(27);
    const fields = ['symbol', 'id', 'price', 'amount', 'side', 'ts'] as const;
    const got = events.filter((e) => e.topic === 'md.trade').map(({ event }) => Object.fromEntries(fields.map((k) => [k, (event as Trade)[k]])));
    // Trades held while a book syncs are released in order: compare per symbol.
    for (const m of markets) expect(got.filter((g) => g.symbol === m.symbol), m.symbol).toEqual(expected.filter((e: { symbol: string }) => e.symbol === m.symbol));
  });
});
