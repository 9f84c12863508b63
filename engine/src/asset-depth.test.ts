import { describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { validateEvent, type AssetDepth, type BookSnapshot, type Level, type Liquidation, type Trade, type VenueId } from '@depthwatch/schemas';
import { startEngine } from './engine.ts';
import type { EngineConfig } from './config.ts';

/** A whole second of event time. */
const T0 = 1_700_000_000_000;

const snap = (venue: VenueId, symbol: string, ts: number, bids: Level[], asks: Level[]): BookSnapshot => ({
  type: 'book_snapshot', venue, symbol, ts, recvTs: ts, seq: 1, bids, asks, depthLimit: 0,
});
const liq = (venue: VenueId, symbol: string, ts: number, position: 'long' | 'short', notional: number, completeness: 'complete' | 'lower_bound' = 'complete'): Liquidation => ({
  type: 'liquidation', venue, symbol, ts, recvTs: ts, seq: 1, id: `${venue}-${ts}`, liquidatedPosition: position,
  price: 1000, amount: notional / 1000, notional, completeness,
});
const trade = (ts: number): Trade => ({ type: 'trade', venue: 'okx', symbol: 'BTC/USDT', ts, recvTs: ts, seq: 1, id: `t${ts}`, price: 1002, amount: 1, side: 'buy', liquidation: false });

async function run(extra: (bus: MemoryBus) => void, config: Partial<EngineConfig> = {}) {
  const bus = new MemoryBus();
  bus.onHandlerError = (_t, err) => {
    throw err;
  };
  const out: { key: string; ev: AssetDepth }[] = [];
  await bus.subscribe('out.depth', (ev, key) => void (ev.type === 'asset_depth' && out.push({ key, ev })));
  const engine = await startEngine({ bus, config, timers: false });
  // Venue A, perp, mid 1000: 2 % band = bids ≥ 980, asks ≤ 1020.
  bus.publish('md.book', 'a', snap('binance-futures', 'BTC/USDT:USDT', T0 + 100, [[999.5, 2], [996, 1], [970, 5]], [[1000.5, 1], [1004, 2], [1030, 4]]));
  // Venue B, spot, mid 1002.
  bus.publish('md.book', 'b', snap('okx', 'BTC/USDT', T0 + 150, [[1001, 1]], [[1003, 3]]));
  // Not USD-like: never counted.
  bus.publish('md.book', 'c', snap('kraken', 'BTC/EUR', T0 + 160, [[900, 100]], [[901, 100]]));
  bus.publish('md.liquidation', 'a', liq('binance-futures', 'BTC/USDT:USDT', T0 + 300, 'long', 50_000));
  bus.publish('md.liquidation', 'a', liq('binance-futures', 'BTC/USDT:USDT', T0 + 500, 'long', 30_000));
  bus.publish('md.liquidation', 'd', liq('bybit', 'BTC/USDT:USDT', T0 + 400, 'short', 20_000, 'lower_bound'));
  bus.publish('md.liquidation', 'c', liq('kraken', 'BTC/EUR', T0 + 450, 'long', 1e6));
  extra(bus);
  await engine.close();
  return out;
}

describe('asset_depth: cross-venue aggregate on out.depth', () => {
  it('sums 2 % depth, capacity and liquidation flow over USD-like venues (hand-computed two-venue case)', async () => {
    const out = await run((bus) => bus.publish('md.trade', 'b', trade(T0 + 1050)));
    expect(out).toHaveLength(1);
    const { key, ev } = out[0];
    expect(key).toBe('*:BTC');
    expect(validateEvent(ev, ['depth', 'asset_depth'])).toEqual(ev);
    const flow = (windowSec: number) => ({ windowSec, longNotional: 80_000, shortNotional: 20_000, longCount: 2, shortCount: 1, longLargest: 50_000, shortLargest: 20_000 });
    expect(ev).toEqual({
      type: 'asset_depth', venue: '*', symbol: '*', asset: 'BTC', ts: T0 + 1000, seq: 1,
      venues: ['binance-futures', 'okx'],
      // bids: 999.5·2 + 996·1 (A) + 1001 (B); asks: 1000.5 + 1004·2 (A) + 1003·3 (B)
      depth2PctBidQuote: 1999 + 996 + 1001,
      depth2PctAskQuote: 1000.5 + 2008 + 3009,
      depth2PctBidBaseline: null,
      depth2PctAskBaseline: null,
      depthTruncated: false,
      liquidations: [flow(10), flow(60), flow(300)],
      lowerBoundVenues: ['bybit'],
      capacity: [
        // 10 bps: A asks ≤ 1001, bids ≥ 999; B asks ≤ 1003.002, bids ≥ 1000.998
        { bps: 10, buyQuote: 1000.5 + 3009, sellQuote: 1999 + 1001 },
        { bps: 50, buyQuote: 3008.5 + 3009, sellQuote: 2995 + 1001 },
        { bps: 100, buyQuote: 3008.5 + 3009, sellQuote: 2995 + 1001 },
      ],
    });
  });

  it('conflates to one per assetIntervalMs of event time, carries baselines later, and publishes once after a gap', async () => {
    const ticks = [1050, 2050, 2500, 3050, 12_050];
    const every = await run((bus) => ticks.forEach((t) => bus.publish('md.trade', 'b', trade(T0 + t))));
    expect(every.map((o) => [o.ev.ts - T0, o.ev.seq])).toEqual([[1000, 1], [2000, 2], [3000, 3], [12_000, 4]]);
    expect(every[1].ev.depth2PctBidBaseline).toBeCloseTo(3996, 6);
    expect(every[1].ev.depth2PctAskBaseline).toBeCloseTo(6017.5, 6);
    // 10 s window ending at 12 000 no longer holds the liquidations of second 0; 60 s still does.
    expect(every[3].ev.liquidations[0]).toMatchObject({ longNotional: 0, shortNotional: 0 });
    expect(every[3].ev.liquidations[1]).toMatchObject({ longNotional: 80_000, shortNotional: 20_000 });
    const slow = await run((bus) => ticks.forEach((t) => bus.publish('md.trade', 'b', trade(T0 + t))), { assetIntervalMs: 2000 });
    expect(slow.map((o) => o.ev.ts - T0)).toEqual([1000, 3000, 12_000]);
  });
});
