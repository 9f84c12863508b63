import type { BookDelta, BookSnapshot, FeedStatus, Level, Liquidation, MarketEvent, Ticker, Topic, VenueId } from '@depthwatch/schemas';

/**
 * Synthetic market-event streams for engine tests, built from plain events (no simulator).
 * Deterministic: a seeded PRNG drives every random choice.
 */

export interface TopicEvent {
  topic: Topic;
  event: MarketEvent;
}

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const T0 = 1_700_000_000_000;

interface Market {
  venue: VenueId;
  symbol: string;
  mid: number;
  tick: number;
  levels: number;
  size: number;
  seq: number;
  liqSeq: number;
  completeness: 'complete' | 'lower_bound';
}

function topicOf(ev: MarketEvent): Topic {
  switch (ev.type) {
    case 'book_snapshot':
    case 'book_delta':
      return 'md.book';
    case 'liquidation':
      return 'md.liquidation';
    case 'ticker':
      return 'md.ticker';
    case 'trade':
      return 'md.trade';
    case 'status':
      return 'md.status';
  }
}

export class StreamBuilder {
  readonly events: TopicEvent[] = [];
  private readonly r: () => number;
  constructor(seed: number) {
    this.r = rng(seed);
  }

  push(ev: MarketEvent): void {
    this.events.push({ topic: topicOf(ev), event: ev });
  }

  market(venue: VenueId, symbol: string, mid: number, tick: number, levels: number, size: number, completeness: 'complete' | 'lower_bound' = 'complete'): Market {
    return { venue, symbol, mid, tick, levels, size, seq: 0, liqSeq: 0, completeness };
  }

  /** Full snapshot around m.mid; `bidScale` scales bid sizes, `bidGap` removes that many top bid levels. */
  snapshot(m: Market, ts: number, bidScale = 1, bidGap = 0): void {
    const bids: Level[] = [];
    const asks: Level[] = [];
    const base = Math.round(m.mid / m.tick) * m.tick;
    for (let i = 1; i <= m.levels; i++) {
      if (i > bidGap) bids.push([base - i * m.tick, m.size * bidScale]);
      asks.push([base + i * m.tick, m.size]);
    }
    const ev: BookSnapshot = { type: 'book_snapshot', venue: m.venue, symbol: m.symbol, ts, recvTs: ts + 5, seq: ++m.seq, bids, asks, depthLimit: 0 };
    this.push(ev);
  }

  /** A few size changes away from the top (keeps bands near their baseline). */
  noise(m: Market, ts: number, bidScale = 1, bidGap = 0): void {
    const base = Math.round(m.mid / m.tick) * m.tick;
    const bids: Level[] = [];
    const asks: Level[] = [];
    for (let k = 0; k < 3; k++) {
      const i = 1 + bidGap + Math.floor(this.r() * (m.levels - bidGap));
      bids.push([base - i * m.tick, m.size * bidScale * (0.8 + 0.4 * this.r())]);
      const j = 1 + Math.floor(this.r() * m.levels);
      asks.push([base + j * m.tick, m.size * (0.8 + 0.4 * this.r())]);
    }
    const ev: BookDelta = { type: 'book_delta', venue: m.venue, symbol: m.symbol, ts, recvTs: ts + 5, seq: ++m.seq, bids, asks };
    this.push(ev);
  }

  liquidation(m: Market, ts: number, position: 'long' | 'short', notional: number): void {
    const price = m.mid;
    const ev: Liquidation = {
      type: 'liquidation',
      venue: m.venue,
      symbol: m.symbol,
      ts,
      recvTs: ts + 5,
      seq: ++m.liqSeq,
      id: `${m.venue}-${m.liqSeq}`,
      liquidatedPosition: position,
      price,
      amount: notional / price,
      notional,
      completeness: m.completeness,
    };
    this.push(ev);
  }

  ticker(m: Market, ts: number): void {
    const ev: Ticker = {
      type: 'ticker',
      venue: m.venue,
      symbol: m.symbol,
      ts,
      recvTs: ts + 5,
      seq: 1,
      markPrice: m.mid * 1.0002,
      indexPrice: m.mid,
      lastPrice: m.mid,
      fundingRate: 0.0001,
      nextFundingTime: ts + 3_600_000,
      openInterest: 1000,
    };
    this.push(ev);
  }

  status(venue: VenueId, symbol: string, ts: number, state: FeedStatus['state'], reason = ''): void {
    this.push({ type: 'status', venue, symbol, ts, recvTs: ts, seq: 1, state, reason, resyncs: 0, gaps: 0, checksumFailures: 0, reconnects: 0, lagMs: 12 });
  }

  /** Calm activity for every market from `from` to `to` (ms offsets from T0): book noise every 100 ms, small liquidations. */
  calm(markets: Market[], from: number, to: number): void {
    for (let t = from; t < to; t += 100) {
      for (const m of markets) {
        this.noise(m, T0 + t);
        if (t % 5000 === 0) this.liquidation(m, T0 + t + 7, this.r() < 0.5 ? 'long' : 'short', 2_000 + this.r() * 8_000);
        if (t % 3000 === 0) this.ticker(m, T0 + t + 3);
      }
    }
  }
}

/**
 * Two BTC perpetual venues and one calm ETH market. Calm for 90 s (baselines warm up), then a long
 * liquidation cascade on both BTC venues:
 *   90–115 s: heavy long liquidations (≈ 115 k/s), book intact         → watch (pressure + acceleration)
 *  115–125 s: top 10 bid levels pulled, spread 4 → 24 bps (6×)          → warning (+ spread)
 *  125–170 s: book re-quoted 2 % lower with bids at 3 % of normal size  → critical (depth collapse, void, price move)
 *  170 s–   : liquidations stop, book restored                          → resolved
 */
export function cascadeStream(seed = 7): TopicEvent[] {
  const b = new StreamBuilder(seed);
  const bin = b.market('binance-futures', 'BTC/USDT:USDT', 50_000, 10, 200, 1, 'lower_bound');
  const byb = b.market('bybit', 'BTC/USDT:USDT', 50_000, 10, 200, 1.2);
  const eth = b.market('okx', 'ETH/USDT:USDT', 3_000, 0.5, 200, 20);
  const all = [bin, byb, eth];
  for (const m of all) b.snapshot(m, T0);
  b.status('binance-futures', '*', T0, 'synced');
  b.calm(all, 100, 90_000);
  const btc = [bin, byb];
  for (let t = 90_000; t < 170_000; t += 100) {
    const phase = t < 115_000 ? 1 : t < 125_000 ? 2 : 3;
    if (t === 115_000) for (const m of btc) b.snapshot(m, T0 + t, 1, 10);
    if (t === 125_000) {
      for (const m of btc) {
        m.mid = 49_000;
        b.snapshot(m, T0 + t, 0.03, 10);
      }
    }
    for (const m of btc) {
      b.noise(m, T0 + t, phase === 3 ? 0.03 : 1, phase >= 2 ? 10 : 0);
      if (t % 500 === 0) b.liquidation(m, T0 + t + 11, 'long', t % 1000 === 0 ? 50_000 : 65_000);
    }
    b.noise(eth, T0 + t);
  }
  for (const m of btc) {
    m.mid = 50_000;
    b.snapshot(m, T0 + 170_000);
  }
  b.calm(all, 170_100, 400_000);
  return b.events;
}

/** Twenty minutes of calm markets with occasional small bursts well under the thresholds. */
export function calmStream(seed = 3, minutes = 20): TopicEvent[] {
  const b = new StreamBuilder(seed);
  const bin = b.market('binance-futures', 'BTC/USDT:USDT', 50_000, 10, 200, 1);
  const byb = b.market('bybit', 'BTC/USDT:USDT', 50_000, 10, 200, 1.2);
  const eth = b.market('okx', 'ETH/USDT:USDT', 3_000, 0.5, 200, 20);
  const all = [bin, byb, eth];
  for (const m of all) b.snapshot(m, T0);
  const r = rng(seed + 1);
  for (let t = 100; t < minutes * 60_000; t += 100) {
    for (const m of all) {
      b.noise(m, T0 + t);
      if (r() < 0.02) b.liquidation(m, T0 + t + 3, r() < 0.5 ? 'long' : 'short', 1_000 + r() * 30_000);
    }
  }
  return b.events;
}
