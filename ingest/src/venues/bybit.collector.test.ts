import { afterEach, describe, expect, it } from 'vitest';
import type { Liquidation } from '@depthwatch/schemas';
import { checkpoint, commonFaultDrill, sleep, startHarness, waitFor, type Harness } from '../sim/harness.ts';
import { BYBIT_BOOK_DEPTH } from './bybit.ts';

/**
 * The real collector against the simulated Bybit v5 linear venue over real sockets: a
 * time-compressed cascade, then every injected fault, with the collector's book equal to the
 * venue's 200-level window at every checkpoint.
 */

const SYMS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'];
const SIM = { market: { levelsPerSide: 300 } };

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe('collector against the simulated Bybit venue', () => {
  it('stays in sync through a cascade; trades, every liquidation (long = S Buy) and merged tickers reconcile', async () => {
    h = await startHarness(['bybit'], {}, { sim: SIM });
    const { sim, ingest, rec } = h;
    sim.market.startCascade();
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      await checkpoint(h, 'bybit', SYMS, BYBIT_BOOK_DEPTH);
    }
    sim.market.pause();
    await sleep(150);
    const sent = sim.sent('bybit');
    let liqs = 0;
    for (const sym of SYMS) {
      const key = `bybit:${sym}`;
      expect(rec.count('bybit', sym, 'trade'), sym).toBe(sim.market.counters.trades[key]);
      // allLiquidation is complete: every model liquidation reaches the consumer.
      expect(rec.count('bybit', sym, 'liquidation'), sym).toBe(sim.market.counters.liquidations[key]);
      expect(rec.count('bybit', sym, 'liquidation')).toBe(sent.liquidations[sym]);
      liqs += sent.liquidations[sym];
      expect(ingest.sessions.get('bybit')!.feeds.get(sym)!.stats.resyncs).toBe(0);
    }
    expect(liqs).toBeGreaterThan(0);
    const ls = rec.events.filter((e): e is Liquidation => e.type === 'liquidation');
    expect(ls.every((l) => l.completeness === 'complete' && l.amount > 0 && l.notional === l.price * l.amount)).toBe(true);
    // The cascade liquidates mostly longs.
    expect(ls.filter((l) => l.liquidatedPosition === 'long').length).toBeGreaterThan(ls.length / 2);
    expect(rec.violations).toEqual([]);
  }, 20_000);

  it('recovers from every injected fault, resyncing only the affected symbol, and matches the sim after each', async () => {
    h = await startHarness(['bybit'], { staleAfterMs: { book: 400 } }, { sim: SIM });
    const { sim, ingest, rec } = h;
    const f = sim.faults('bybit');
    const session = ingest.sessions.get('bybit')!;
    const feed = (s: string) => session.feeds.get(s)!;
    const resyncs = () => SYMS.map((s) => feed(s).stats.resyncs);
    const synced = () => ingest.health().ready;
    const check = () => checkpoint(h!, 'bybit', SYMS, BYBIT_BOOK_DEPTH);

    // 1. u jump on one symbol: that symbol resubscribes, the others are untouched.
    let before = resyncs();
    f.sequenceGap('BTC/USDT:USDT');
    await waitFor('gap detected', () => feed('BTC/USDT:USDT').stats.gaps === 1);
    await waitFor('resynced', synced);
    expect(resyncs()).toEqual([before[0] + 1, before[1], before[2]]);
    await check();

    // 2. mid-stream snapshot and 3. service restart (u=1): the book is replaced, no resync.
    before = resyncs();
    f.midStreamSnapshot('ETH/USDT:USDT');
    await sleep(200);
    await check();
    f.restart('ETH/USDT:USDT');
    await sleep(300);
    await check();
    expect(resyncs()).toEqual(before);
    expect(feed('ETH/USDT:USDT').state).toBe('synced');

    // 4.–7. malformed and truncated book frames, a stalled feed, a disconnect.
    await commonFaultDrill(h, 'bybit', SYMS, BYBIT_BOOK_DEPTH, 'orderbook');

    // Every ticker field is present although deltas carry only what changed (merged per symbol).
    const t = rec.tickers.get('bybit:BTC/USDT:USDT')!;
    for (const k of ['markPrice', 'indexPrice', 'lastPrice', 'fundingRate', 'nextFundingTime', 'openInterest'] as const) expect(t[k], k).toBeTypeOf('number');
    expect(rec.violations).toEqual([]);
  }, 30_000);
});
