import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryBus } from '@depthwatch/bus';
import { metricValue } from '@depthwatch/ops';
import type { ParseContext } from '../sync/adapter.ts';
import { OrderBook } from '../sync/order-book.ts';
import { VenueSession } from '../sync/venue-session.ts';
import { marketInfo } from '../metadata/index.ts';
import { GOOD } from '../fuzz/support.ts';
import { BITMEX_MAX_BOOK_IDS, BITMEX_MAX_LIQUIDATION_ORDERS, bitmex } from './bitmex.ts';

/**
 * Hostile BitMEX data must not grow the adapter's per-session maps without limit: a book claiming
 * more ids than BITMEX_MAX_BOOK_IDS is corrupt (counted parse error, book resubscribed and rebuilt
 * by the next partial); more than BITMEX_MAX_LIQUIDATION_ORDERS open liquidation orders is a
 * corrupt table (counted, tracked orders forgotten).
 */

const T0 = 1758000000000;
const table = (t: string, action: string, data: object[], extra: object = {}) => JSON.stringify({ table: t, action, ...extra, data });

function context(): ParseContext {
  return { recvTs: T0, symbolOf: (vs) => (vs === 'XBTUSD' ? 'BTC/USD:BTC' : undefined), market: (s) => marketInfo('bitmex', s) };
}

/** Insert frames naming `count` distinct ids from `firstId` on, in frames of `perFrame` rows; prices from a seeded generator. */
function insertFrames(firstId: number, count: number, perFrame: number, seed: number): string[] {
  const prices = fc.sample(fc.integer({ min: 2, max: 400_000 }), { seed, numRuns: count });
  const frames: string[] = [];
  for (let k = 0; k < count; k += perFrame) {
    const rows = [];
    for (let i = k; i < Math.min(count, k + perFrame); i++) {
      rows.push({ symbol: 'XBTUSD', id: firstId + i, side: i % 2 ? 'Sell' : 'Buy', size: 1 + (i % 97), price: prices[i]! / 2, timestamp: '2026-09-16T05:20:00.100Z' });
    }
    frames.push(table('orderBookL2', 'insert', rows));
  }
  return frames;
}

const parseErrors = (channel: string): Promise<number> => metricValue('depthwatch_ingest_parse_errors_total', { venue: 'bitmex', channel });

describe('BitMEX per-session maps are bounded', () => {
  it(`an insert past ${BITMEX_MAX_BOOK_IDS} ids is a corrupt book: counted, resubscribed, rows dropped until the next partial rebuilds the exact book`, async () => {
    const g = GOOD.bitmex;
    const bus = new MemoryBus();
    let clock = T0;
    const session = new VenueSession(bitmex, { venue: 'bitmex', symbols: [g.symbol], channels: ['book'] }, bus, () => clock);
    const feed = session.feeds.get(g.symbol)!;
    const frame = (text: string) => session.replayFrame(text, ++clock, 0);
    try {
      session.replayOpen();
      frame(g.snapshot); // 3 ids
      expect(feed.sync.synced).toBe(true);
      const errorsBefore = await parseErrors('book');
      const resyncsBefore = feed.stats.resyncs;
      // Up to the bound: a (very) deep book is still a book.
      for (const f of insertFrames(1_000, BITMEX_MAX_BOOK_IDS - 3, 5_000, 1)) frame(f);
      expect(feed.sync.synced).toBe(true);
      expect(session.counters.parseErrors).toBe(0);
      // Re-inserting an id already held does not grow the map.
      frame(table('orderBookL2', 'insert', [{ symbol: 'XBTUSD', id: 1_000, side: 'Buy', size: 5, price: 1 }]));
      expect(feed.sync.synced).toBe(true);
      // One id more is not.
      frame(insertFrames(10_000_000, 1, 1, 2)[0]!);
      expect(session.counters.parseErrors).toBe(1);
      expect((await parseErrors('book')) - errorsBefore).toBe(1);
      expect(feed.sync.synced).toBe(false);
      expect(feed.stats.resyncs).toBe(resyncsBefore + 1);
      // Until the next partial, more hostile rows are dropped, not stored.
      for (const f of insertFrames(20_000_000, 20_000, 5_000, 3)) frame(f);
      expect(session.counters.parseErrors).toBe(1);
      expect(feed.sync.synced).toBe(false);
      // The venue's next partial (what the resubscribe brings) rebuilds exactly the book it describes.
      frame(g.snapshot);
      frame(g.diff);
      const want = new OrderBook();
      const ctx = context();
      for (const m of [...bitmex.parse(g.snapshot, ctx), ...bitmex.parse(g.diff, ctx)]) {
        if (m.kind === 'book_snapshot') want.load(m.bids, m.asks);
        else if (m.kind === 'book_diff') want.apply(m.bids, m.asks);
      }
      expect(feed.book()).toEqual({ bids: want.sorted('bid'), asks: want.sorted('ask') });
    } finally {
      await session.close();
    }
  });

  it('a partial with more rows than the bound is refused as corrupt', () => {
    const ctx = context();
    const rows = Array.from({ length: BITMEX_MAX_BOOK_IDS + 1 }, (_, i) => ({ symbol: 'XBTUSD', id: i, side: i % 2 ? 'Sell' : 'Buy', size: 1, price: 1 + i / 2 }));
    expect(() => bitmex.parse(table('orderBookL2', 'partial', rows, { filter: { symbol: 'XBTUSD' } }), ctx)).toThrow(/more than a book can hold/);
    // Nothing was kept: an update now is dropped as before any partial.
    expect(bitmex.parse(table('orderBookL2', 'update', [{ symbol: 'XBTUSD', id: 1, side: 'Sell', size: 2, price: 1.5 }]), ctx)).toEqual([]);
  });

  it(`more than ${BITMEX_MAX_LIQUIDATION_ORDERS} open liquidation orders is a corrupt table: counted, tracked orders forgotten, later orders tracked again`, () => {
    const ctx = context();
    const order = (id: string, leavesQty = 100) => ({ orderID: id, symbol: 'XBTUSD', side: 'Sell', price: 114_000, leavesQty });
    for (let k = 0; k < BITMEX_MAX_LIQUIDATION_ORDERS; k += 1_000) {
      bitmex.parse(table('liquidation', 'insert', Array.from({ length: 1_000 }, (_, i) => order(`o${k + i}`))), ctx);
    }
    // An order already tracked may still change.
    expect(bitmex.parse(table('liquidation', 'update', [{ orderID: 'o0', symbol: 'XBTUSD', leavesQty: 40 }]), ctx)).toMatchObject([{ kind: 'liquidation', id: 'o0-40' }]);
    expect(() => bitmex.parse(table('liquidation', 'insert', [order('one-too-many')]), ctx)).toThrow(expect.objectContaining({ channel: 'liquidation', symbol: 'BTC/USD:BTC' }));
    // Forgotten: their fills are unknowable now, like orders resting before the subscription.
    expect(bitmex.parse(table('liquidation', 'delete', [{ orderID: 'o1', symbol: 'XBTUSD' }]), ctx)).toEqual([]);
    bitmex.parse(table('liquidation', 'insert', [order('fresh', 10)]), ctx);
    expect(bitmex.parse(table('liquidation', 'delete', [{ orderID: 'fresh', symbol: 'XBTUSD' }]), ctx)).toMatchObject([{ kind: 'liquidation', id: 'fresh-0' }]);
  });
});
