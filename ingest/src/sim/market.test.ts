import { describe, expect, it } from 'vitest';
import { Market, type InstrumentSpec, type InstrumentStep } from './market.ts';

const BTC: InstrumentSpec = { venue: 'binance-futures', symbol: 'BTC/USDT:USDT', venueSymbol: 'BTCUSDT', tick: 0.1, lot: 0.001, startMid: 115_000, derivative: true };

function stats(m: Market) {
  const i = m.instrument('binance-futures', 'BTC/USDT:USDT');
  const mid = ((i.bestBid + i.bestAsk) / 2) * i.spec.tick;
  let depth2 = 0;
  let ask2 = 0;
  for (const [t, lots] of i.bids) if (t * i.spec.tick >= mid * 0.98) depth2 += lots;
  for (const [t, lots] of i.asks) if (t * i.spec.tick <= mid * 1.02) ask2 += lots;
  // Quote notional within 2 % per side (≈ mid × lots × lot).
  const quote = (lots: number) => lots * i.spec.lot * mid;
  return { mid, spread: i.bestAsk - i.bestBid, depth2, bidQuote2: quote(depth2), askQuote2: quote(ask2), bids: i.bids.size, asks: i.asks.size };
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
    const inst = m.instrument('binance-futures', 'BTC/USDT:USDT');
    let longLots = 0;
    m.on('step', (steps: InstrumentStep[]) => {
      for (const l of steps[0].liquidations) if (l.position === 'long') longLots += l.lots;
    });
    m.startCascade();
    let worst = before;
    let minDepth = Infinity;
    let maxSpread = 0;
    // The order of a real cascade: price shock, then the liquidation surge, then liquidity withdrawal.
    const first = { shock: Infinity, surge: Infinity, withdrawal: Infinity };
    for (let i = 1; i <= 75; i++) {
      m.step();
      const s = stats(m);
      minDepth = Math.min(minDepth, s.depth2);
      maxSpread = Math.max(maxSpread, s.spread);
      if (s.mid < worst.mid) worst = s;
      if (s.mid <= before.mid * 0.997) first.shock = Math.min(first.shock, i);
      if (longLots >= 0.25 * before.depth2) first.surge = Math.min(first.surge, i);
      if (s.depth2 <= before.depth2 / 2) first.withdrawal = Math.min(first.withdrawal, i);
    }
    expect(first.shock).toBeLessThanOrEqual(first.surge);
    expect(first.surge).toBeLessThan(first.withdrawal);
    // Liquidations are large against resting depth: over a minute, more than the calm 2 % bid depth.
    expect(longLots / inst.depth2Lots).toBeGreaterThan(1);
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

  it('keeps a stationary book: no drift of the 2 % depth or the level count over 20 simulated minutes', () => {
    const m = new Market({ instruments: [BTC], seed: 5, scenario: 'calm', timeScale: 10, now: () => 0 }); // 1 s per step
    const run = (seconds: number) => {
      for (let i = 0; i < seconds; i++) m.step();
      return stats(m);
    };
    const two = run(120);
    // BTC perp on Binance: ~$50–150 M within 2 % per side.
    for (const q of [two.bidQuote2, two.askQuote2]) {
      expect(q).toBeGreaterThan(50e6);
      expect(q).toBeLessThan(150e6);
    }
    const twenty = run(1080);
    expect(twenty.bidQuote2 / two.bidQuote2).toBeGreaterThan(1 / 1.5);
    expect(twenty.bidQuote2 / two.bidQuote2).toBeLessThan(1.5);
    expect(twenty.askQuote2 / two.askQuote2).toBeGreaterThan(1 / 1.5);
    expect(twenty.askQuote2 / two.askQuote2).toBeLessThan(1.5);
    for (const n of [twenty.bids, twenty.asks]) {
      expect(n).toBeGreaterThan(1000);
      expect(n).toBeLessThan(1400);
    }
  });

  it('the default scenario starts a cascade within two minutes; calm never does', () => {
    const d = new Market({ instruments: [BTC], seed: 1, scenario: 'default', timeScale: 10, now: () => 0 });
    const calm = new Market({ instruments: [BTC], seed: 1, scenario: 'calm', timeScale: 10, now: () => 0 });
    for (let i = 0; i < 90; i++) (d.step(), calm.step());
    expect(d.cascadeActive('BTC')).toBe(true);
    expect(calm.cascadeActive('BTC')).toBe(false);
  });
});
