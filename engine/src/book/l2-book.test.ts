import { describe, expect, it } from 'vitest';
import { BAND_PCTS, type Level } from '@depthwatch/schemas';
import { L2Book } from './l2-book.ts';
import { computeDepthMetrics } from '../metrics/depth.ts';
import { referenceDepth } from '../metrics/reference.ts';
import { rng } from '../test-streams.ts';

function rel(a: number, b: number): number {
  if (a === b) return 0;
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

function expectMatchesReference(book: L2Book, bids: Map<number, number>, asks: Map<number, number>): void {
  const got = computeDepthMetrics(book, 0, 0);
  const want = referenceDepth(bids, asks, book.depthLimit);
  expect(got.bestBid).toBe(want.bestBid);
  expect(got.bestAsk).toBe(want.bestAsk);
  expect(got.bidLevels).toBe(want.bidLevels);
  expect(got.askLevels).toBe(want.askLevels);
  expect(rel(got.microprice, want.microprice)).toBeLessThan(1e-12);
  expect(rel(got.imbalance, want.imbalance)).toBeLessThan(1e-9);
  for (let k = 0; k < BAND_PCTS.length; k++) {
    const g = got.bands[k];
    const w = want.bands[k];
    for (const f of ['bidBase', 'askBase', 'bidQuote', 'askQuote'] as const) {
      if (rel(g[f], w[f]) >= 1e-9) throw new Error(`band ${w.pct} ${f}: ${g[f]} vs ${w[f]}`);
    }
    expect(g.bidTruncated).toBe(w.bidTruncated);
    expect(g.askTruncated).toBe(w.askTruncated);
  }
  for (let i = 0; i < got.slippage.length; i++) {
    const g = got.slippage[i];
    const w = want.slippage[i];
    for (const f of ['buyBps', 'sellBps'] as const) {
      if (w[f] === null || g[f] === null) expect(g[f]).toBe(w[f]);
      else expect(Math.abs(g[f]! - w[f]!)).toBeLessThan(1e-7);
    }
  }
  for (let i = 0; i < got.capacity.length; i++) {
    expect(rel(got.capacity[i].buyQuote, want.capacity[i].buyQuote)).toBeLessThan(1e-9);
    expect(rel(got.capacity[i].sellQuote, want.capacity[i].sellQuote)).toBeLessThan(1e-9);
  }
}

describe('L2Book basics', () => {
  it('keeps levels sorted, best first, applies deltas and ignores unknown deletes', () => {
    const book = new L2Book('binance-futures', 'BTC/USDT:USDT');
    expect(book.bestBid()).toBeNaN();
    expect(book.bestAsk()).toBeNaN();
    book.applySnapshot([[99, 1], [100, 2], [98, 3]], [[102, 1], [101, 4]], 0);
    expect(book.bestBid()).toBe(100);
    expect(book.bestAsk()).toBe(101);
    expect(book.bidCount).toBe(3);
    expect(book.askCount).toBe(2);
    expect(book.topLevels('bid', 2)).toEqual([[100, 2], [99, 1]]);
    expect(book.topLevels('ask', 5)).toEqual([[101, 4], [102, 1]]);
    book.applyDelta([[100, 0], [99.5, 7], [50, 0]], [[101, 0], [100.5, 1], [103, 0]]);
    expect(book.topLevels('bid', 10)).toEqual([[99.5, 7], [99, 1], [98, 3]]);
    expect(book.topLevels('ask', 10)).toEqual([[100.5, 1], [102, 1]]);
    book.applyDelta([[99, 5]], []);
    expect(book.topLevels('bid', 2)).toEqual([[99.5, 7], [99, 5]]);
    expect(book.depthLimit).toBe(0);
  });

  it('rejects invalid levels and counts them', () => {
    const book = new L2Book('bybit', 'ETH/USDT:USDT');
    book.applySnapshot([[100, 1]], [[101, 1]], 0);
    book.applyDelta([[NaN, 1], [-5, 1], [99, -1]], [[Infinity, 1]]);
    expect(book.invalidLevels).toBe(4);
    expect(book.bidCount).toBe(1);
  });

  it('sorts unsorted snapshots with duplicates (last wins) and drops zero sizes', () => {
    const book = new L2Book('okx', 'BTC/USDT:USDT');
    book.applySnapshot([[98, 1], [100, 1], [99, 1], [100, 3], [97, 0]], [[101, 1]], 0);
    expect(book.topLevels('bid', 10)).toEqual([[100, 3], [99, 1], [98, 1]]);
  });

  it('trims to depthLimit and flags truncated bands', () => {
    const book = new L2Book('okx', 'BTC/USDT:USDT');
    // mid 100; bids 99.95 .. 99.55 (5 levels), asks 100.05 .. 100.45.
    const bids: Level[] = [0, 1, 2, 3, 4].map((i) => [99.95 - i * 0.1, 1]);
    const asks: Level[] = [0, 1, 2, 3, 4].map((i) => [100.05 + i * 0.1, 1]);
    book.applySnapshot(bids, asks, 5);
    const m = computeDepthMetrics(book, 0, 0);
    // 0.1 % band reaches 99.9 / 100.1: inside the held range, not truncated.
    expect(m.bands[0].bidTruncated).toBe(false);
    expect(m.bands[0].askTruncated).toBe(false);
    // 0.5 % band reaches 99.5 / 100.5: beyond the deepest held levels.
    expect(m.bands[1].bidTruncated).toBe(true);
    expect(m.bands[1].askTruncated).toBe(true);
    // A new top level pushes the deepest one out.
    book.applyDelta([[99.99, 1]], []);
    expect(book.bidCount).toBe(5);
    expect(book.topLevels('bid', 10).at(-1)![0]).toBeCloseTo(99.65, 10);
    // The same book from a full-depth feed is never flagged.
    const full = new L2Book('binance', 'BTC/USDT');
    full.applySnapshot(bids, asks, 0);
    expect(computeDepthMetrics(full, 0, 0).bands[1].bidTruncated).toBe(false);
  });
});

describe('depth metrics on a hand-computed book', () => {
  // mid = 100, spread 2 bps... bids 99.99 / 99.5 / 98.5 / 95, asks 100.01 / 100.4 / 101.5 / 104.
  const book = new L2Book('binance-futures', 'BTC/USDT:USDT');
  book.applySnapshot(
    [[99.99, 2], [99.5, 4], [98.5, 10], [95, 100]],
    [[100.01, 1], [100.4, 3], [101.5, 10], [104, 100]],
    0,
  );
  const m = computeDepthMetrics(book, 123, 7);

  it('top of book, mid, microprice, spread', () => {
    expect(m.bestBid).toBe(99.99);
    expect(m.bestAsk).toBe(100.01);
    expect(m.mid).toBeCloseTo(100, 12);
    // microprice = (bid × askSize + ask × bidSize) / (bidSize + askSize) = (99.99×1 + 100.01×2)/3
    expect(m.microprice).toBeCloseTo((99.99 + 200.02) / 3, 12);
    expect(m.spreadBps).toBeCloseTo(2, 9);
    expect(m.ts).toBe(123);
    expect(m.seq).toBe(7);
  });

  it('bands: 0.1 % [99.9, 100.1], 0.5 % [99.5, 100.5], 1 % [99, 101], 2 % [98, 102], 5 % [95, 105]', () => {
    const band = (pct: number) => m.bands.find((b) => b.pct === pct)!;
    expect(band(0.1)).toMatchObject({ bidBase: 2, askBase: 1 });
    expect(band(0.1).bidQuote).toBeCloseTo(199.98, 9);
    expect(band(0.1).askQuote).toBeCloseTo(100.01, 9);
    expect(band(0.5)).toMatchObject({ bidBase: 6, askBase: 4 });
    expect(band(0.5).bidQuote).toBeCloseTo(199.98 + 398, 9);
    expect(band(0.5).askQuote).toBeCloseTo(100.01 + 301.2, 9);
    expect(band(1)).toMatchObject({ bidBase: 6, askBase: 4 });
    expect(band(2)).toMatchObject({ bidBase: 16, askBase: 14 });
    expect(band(2).bidQuote).toBeCloseTo(199.98 + 398 + 985, 9);
    expect(band(2).askQuote).toBeCloseTo(100.01 + 301.2 + 1015, 9);
    expect(band(5)).toMatchObject({ bidBase: 116, askBase: 114 });
    expect(band(10)).toMatchObject({ bidBase: 116, askBase: 114, bidTruncated: false, askTruncated: false });
  });

  it('imbalance within 1 %: (6 − 4) / 10', () => {
    expect(m.imbalance).toBeCloseTo(0.2, 12);
  });

  it('slippage: VWAP impact versus mid', () => {
    // Buy 10 000 quote: 100.01 (1 unit) + 301.2 (3) + 1015 (10) = 1416.21, remaining 8583.79 at 104.
    const base = 1 + 3 + 10 + 8583.79 / 104;
    const vwap = 10_000 / base;
    expect(m.slippage[0].notional).toBe(10_000);
    expect(m.slippage[0].buyBps).toBeCloseTo((vwap / 100 - 1) * 1e4, 6);
    // Sell 10 000: 199.98 + 398 + 985 = 1582.98, remaining 8417.02 at 95.
    const sbase = 2 + 4 + 10 + 8417.02 / 95;
    expect(m.slippage[0].sellBps).toBeCloseTo((1 - 10_000 / sbase / 100) * 1e4, 6);
    // 100 k exceeds both sides (asks hold 11 816.21, bids 11 082.98): cannot fill.
    expect(m.slippage[1]).toEqual({ notional: 100_000, buyBps: null, sellBps: null });
    expect(m.slippage[2].buyBps).toBeNull();
  });

  it('block capacity within 10 / 50 / 100 bps', () => {
    expect(m.capacity.map((c) => c.bps)).toEqual([10, 50, 100]);
    expect(m.capacity[0].buyQuote).toBeCloseTo(100.01, 9);
    expect(m.capacity[0].sellQuote).toBeCloseTo(199.98, 9);
    expect(m.capacity[1].buyQuote).toBeCloseTo(401.21, 9);
    expect(m.capacity[2].sellQuote).toBeCloseTo(597.98, 9);
  });

  it('a small market buy inside the best level has the half-spread impact', () => {
    const b = new L2Book('bybit', 'BTC/USDT:USDT');
    b.applySnapshot([[99, 1000]], [[101, 1000]], 0);
    const x = computeDepthMetrics(b, 0, 0);
    expect(x.slippage[0].buyBps).toBeCloseTo(100, 9);
    expect(x.slippage[0].sellBps).toBeCloseTo(100, 9);
  });

  it('inverse contract (BTC/USD:BTC, 1 contract = 1 USD, sizes already converted to base)', () => {
    // 50 000 contracts at 50 000 = 1 BTC; quote notional = price × base = 50 000 USD.
    const b = new L2Book('bitmex', 'BTC/USD:BTC');
    b.applySnapshot([[50_000, 50_000 / 50_000]], [[50_010, 100_000 / 50_010]], 0);
    const x = computeDepthMetrics(b, 0, 0);
    const band2 = x.bands[BAND_PCTS.indexOf(2)];
    expect(band2.bidBase).toBeCloseTo(1, 12);
    expect(band2.bidQuote).toBeCloseTo(50_000, 9);
    expect(band2.askQuote).toBeCloseTo(100_000, 9);
    // A 10 k buy fills entirely at 50 010: impact = (50 010 / 50 005 − 1) × 1e4.
    expect(x.slippage[0].buyBps).toBeCloseTo((50_010 / 50_005 - 1) * 1e4, 9);
  });

  it('contract-sized linear instrument (OKX ctVal 0.01 BTC applied upstream)', () => {
    // 250 contracts × 0.01 = 2.5 BTC at 60 000.
    const b = new L2Book('okx', 'BTC/USDT:USDT');
    b.applySnapshot([[60_000, 250 * 0.01]], [[60_006, 100 * 0.01]], 400);
    const x = computeDepthMetrics(b, 0, 0);
    expect(x.bands[0].bidQuote).toBeCloseTo(150_000, 6);
    expect(x.bands[0].askQuote).toBeCloseTo(60_006, 6);
    expect(x.imbalance).toBeCloseTo((2.5 - 1) / 3.5, 12);
    // depthLimit 400 but the band edges lie beyond the single level held: truncated.
    expect(x.bands[3].bidTruncated).toBe(true);
  });
});

describe('incremental bands equal a from-scratch recompute on random streams', () => {
  for (const [seed, depthLimit, steps] of [
    [1, 0, 20_000],
    [2, 0, 20_000],
    [3, 25, 20_000],
    [4, 0, 60_000],
  ] as const) {
    it(`seed ${seed}, depthLimit ${depthLimit}`, () => {
      const r = rng(seed);
      const tick = 0.5;
      let center = 20_000;
      const bids = new Map<number, number>();
      const asks = new Map<number, number>();
      const book = new L2Book('binance-futures', 'BTC/USDT:USDT');
      const snapB: Level[] = [];
      const snapA: Level[] = [];
      for (let i = 1; i <= 400; i++) {
        snapB.push([center - i * tick, Math.round(r() * 1e4) / 1e3]);
        snapA.push([center + i * tick, Math.round(r() * 1e4) / 1e3]);
      }
      book.applySnapshot(snapB, snapA, depthLimit);
      const trimTo = (m: Map<number, number>, desc: boolean) => {
        if (depthLimit === 0) return;
        const keys = [...m.keys()].sort((a, b) => (desc ? b - a : a - b));
        for (const k of keys.slice(depthLimit)) m.delete(k);
      };
      for (const [p, s] of snapB) bids.set(p, s);
      for (const [p, s] of snapA) asks.set(p, s);
      trimTo(bids, true);
      trimTo(asks, false);
      for (let step = 0; step < steps; step++) {
        // Random walk of the centre, with occasional jumps of several percent.
        const jumped = r() < 0.002;
        const jump = jumped ? (r() - 0.5) * 0.1 * center : (r() - 0.5) * 4 * tick;
        center = Math.round((center + jump) / tick) * tick;
        const db: Level[] = [];
        const da: Level[] = [];
        // Keep the book uncrossed: delete bids at or above the centre and asks at or below it.
        const scan = jumped ? 1e9 : 50;
        for (const [p] of book.topLevels('bid', scan)) if (p >= center) db.push([p, 0]);
        for (const [p] of book.topLevels('ask', scan)) if (p <= center) da.push([p, 0]);
        const nUpd = 1 + Math.floor(r() * 6);
        for (let u = 0; u < nUpd; u++) {
          // Prices mostly near the centre, sometimes deep.
          const dist = (r() < 0.9 ? Math.floor(r() * 40) : Math.floor(r() * 3000)) * tick + tick;
          const del = r() < 0.3;
          // Sizes span ten orders of magnitude (whales come and go) so naive running sums would drift.
          const whale = r() < 0.03 ? 1e7 : 1;
          const size = del ? 0 : (Math.round(r() * 1e5) / 1e5 + 1e-4) * whale;
          if (r() < 0.5) db.push([center - dist, size]);
          else da.push([center + dist, size]);
        }
        // Never empty a side.
        if (bids.size < 3) db.push([center - tick, 1]);
        if (asks.size < 3) da.push([center + tick, 1]);
        for (const [p, s] of db) {
          if (s === 0) bids.delete(p);
          else bids.set(p, s);
        }
        for (const [p, s] of da) {
          if (s === 0) asks.delete(p);
          else asks.set(p, s);
        }
        book.applyDelta(db, da);
        trimTo(bids, true);
        trimTo(asks, false);
        if (step % 211 === 0 || step === steps - 1) expectMatchesReference(book, bids, asks);
      }
    });
  }

  it('large mid jumps walk many levels in and out', () => {
    const book = new L2Book('bybit', 'ETH/USDT:USDT');
    const bids = new Map<number, number>();
    const asks = new Map<number, number>();
    for (let i = 1; i <= 2000; i++) {
      bids.set(3000 - i * 0.1, 1 + (i % 7));
      asks.set(3000 + i * 0.1, 1 + (i % 5));
    }
    book.applySnapshot([...bids], [...asks], 0);
    expectMatchesReference(book, bids, asks);
    // Wipe the top 150 bid levels: mid drops ~0.25 %.
    const wipe: Level[] = [];
    for (let i = 1; i <= 150; i++) {
      wipe.push([3000 - i * 0.1, 0]);
      bids.delete(3000 - i * 0.1);
    }
    const newAsks: Level[] = [];
    for (let i = 1; i <= 150; i++) {
      newAsks.push([2985 + i * 0.01, 2]);
      asks.set(2985 + i * 0.01, 2);
    }
    book.applyDelta(wipe, newAsks);
    expectMatchesReference(book, bids, asks);
    // One side emptied, then refilled.
    const clear: Level[] = [...asks.keys()].map((p) => [p, 0]);
    book.applyDelta([], clear);
    asks.clear();
    expect(book.bestAsk()).toBeNaN();
    expect(book.bandQuote('bid', 5)).toBe(0);
    book.applyDelta([], [[2990, 5]]);
    asks.set(2990, 5);
    expectMatchesReference(book, bids, asks);
  });
});
