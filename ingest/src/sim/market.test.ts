import { describe, expect, it } from 'vitest';
import { Market, type InstrumentSpec } from './market.ts';

const BTC: InstrumentSpec = { venue: 'binance-futures', symbol: 'BTC/USDT:USDT', venueSymbol: 'BTCUSDT', tick: 0.1, lot: 0.001, startMid: 115_000, derivative: true };

function stats(m: Market) {
  const i = m.instrument('binance-futures', 'BTC/USDT:USDT');
  const mid = ((i.bestBid + i.bestAsk) / 2) * i.spec.tick;
  let depth2 = 0;
  for (const [t, lots] of i.bids) if (t * i.spec.tick >= mid * 0.98) depth2 += lots;
  return { mid, spread: i.bestAsk - i.bestBid, depth2, bids: i.bids.size, asks: i.asks.size };
}

describe('simulated market', () => {
  it('is deterministic for a seed and keeps 1000+ levels per side', () => {
    const a = new Market({ instruments: [BTC], seed: 3, scenario: 'calm', now: () => 0 });
    const b = new Market({ instruments: [BTC], seed: 3, scenario: 'calm', now: () => 0 });
    for (let i = 0; i < 200; i++) (a.step(), b.step());
    expect(a.book('binance-futures', 'BTC/USDT:USDT')).toEqual(b.book('binance-futures', 'BTC/USDT:USDT'));
    expect(a.counters).toEqual(b.counters);
    const s = stats(a);
    expect(s.bids).toBeGreaterThanOrEqual(1000);
    expect(s.asks).toBeGreaterThanOrEqual(1000);
    const c = new Market({ instruments: [BTC], seed: 4, scenario: 'calm', now: () => 0 });
    for (let i = 0; i < 200; i++) c.step();
    expect(c.book('binance-futures', 'BTC/USDT:USDT')).not.toEqual(a.book('binance-futures', 'BTC/USDT:USDT'));
  });

  it('plays a cascade: long liquidations surge, 2 % bid depth withdraws ≥10×, spread ≥5×, price drops, then recovers', () => {
    const m = new Market({ instruments: [BTC], seed: 11, scenario: 'calm', timeScale: 10, now: () => 0 }); // 1 s per step
    for (let i = 0; i < 30; i++) m.step();
    const before = stats(m);
    const liqBefore = m.counters.liquidations['binance-futures:BTC/USDT:USDT'];
    m.startCascade();
    let worst = before;
    let minDepth = Infinity;
    let maxSpread = 0;
    for (let i = 0; i < 75; i++) {
      m.step();
      const s = stats(m);
      minDepth = Math.min(minDepth, s.depth2);
      maxSpread = Math.max(maxSpread, s.spread);
      if (s.mid < worst.mid) worst = s;
    }
    const liqDuring = m.counters.liquidations['binance-futures:BTC/USDT:USDT'] - liqBefore;
    expect(liqDuring).toBeGreaterThan(30 * Math.max(1, liqBefore) * (75 / 30) / 10);
    expect(before.depth2 / minDepth).toBeGreaterThanOrEqual(10);
    expect(maxSpread / before.spread).toBeGreaterThanOrEqual(5);
    expect(worst.mid / before.mid).toBeLessThan(0.985);
    for (let i = 0; i < 240; i++) m.step();
    const after = stats(m);
    expect(after.spread).toBeLessThanOrEqual(2 * before.spread);
    expect(after.depth2 / before.depth2).toBeGreaterThan(0.5);
    expect(after.mid).toBeGreaterThan(worst.mid);
  });

  it('the default scenario starts a cascade within two minutes; calm never does', () => {
    const d = new Market({ instruments: [BTC], seed: 1, scenario: 'default', timeScale: 10, now: () => 0 });
    const calm = new Market({ instruments: [BTC], seed: 1, scenario: 'calm', timeScale: 10, now: () => 0 });
    for (let i = 0; i < 90; i++) (d.step(), calm.step());
    expect(d.cascadeActive('BTC')).toBe(true);
    expect(calm.cascadeActive('BTC')).toBe(false);
  });
});
