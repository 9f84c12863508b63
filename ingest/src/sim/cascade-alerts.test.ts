import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { startEngine, type EngineStage } from '@depthwatch/engine';
import type { Alert, DepthMetrics, Level, Liquidation, VenueId } from '@depthwatch/schemas';
import { adapterFor } from '../venues/index.ts';
import { BYBIT_BOOK_DEPTH } from '../venues/bybit.ts';
import { DepthWindow } from './depth-window.ts';
import { Market, type Instrument, type InstrumentSpec, type InstrumentStep, type MarketOptions } from './market.ts';
import type { ScenarioName } from './scenario.ts';
import { instrumentSpec } from './index.ts';

/**
 * The simulated market → the engine with its DEFAULT config, without sockets or wall-clock
 * waiting: `market.step()` in a loop, each step rendered as the normalized md.* events a collector
 * would publish (book snapshot then deltas — Bybit's 200-level window as on its wire —, trades,
 * liquidations with Binance's one-per-symbol-per-second forceOrder sampling, tickers), stamped
 * with scenario time.
 */

const T0 = 1_760_000_000_000;
/** Partial-depth feeds: levels per side the venue shows. */
const WINDOW: Partial<Record<VenueId, number>> = { bybit: BYBIT_BOOK_DEPTH };
/** Venues whose liquidation feed is sampled: the latest liquidation of each 1000 ms window per symbol. */
const SAMPLED = new Set<VenueId>(['binance-futures']);

function instrumentSpecs(venues: VenueId[]): InstrumentSpec[] {
  return venues.flatMap((venue) => {
    return adapterFor(venue).defaultSymbols.map((symbol) => {
      const spec = instrumentSpec(venue, symbol);
      if (spec.inverse) throw new Error('this converter renders linear instruments only');
      return spec;
    });
  });
}

interface Run {
  market: Market;
  engine: EngineStage;
  alerts: Alert[];
  /** Advance the market `seconds` of scenario time; `each` runs after every whole scenario second. */
  advance(seconds: number, each?: (sec: number) => void): void;
}

const open: EngineStage[] = [];
afterEach(async () => {
  for (const e of open.splice(0)) await e.close();
});

async function simulate(venues: VenueId[], scenario: ScenarioName, stepSec: number, tuning: Partial<MarketOptions> = {}): Promise<Run> {
  const bus = new MemoryBus();
  const engine = await startEngine({ bus, timers: false });
  open.push(engine);
  const alerts: Alert[] = [];
  await bus.subscribe('out.alert', (a) => void alerts.push(a));
  // 100 ms steps are the market's depth cadence; timeScale stretches one step to `stepSec` scenario seconds.
  const market: Market = new Market({
    instruments: instrumentSpecs(venues),
    seed: 42,
    scenario,
    ...tuning,
    stepMs: 100,
    timeScale: stepSec / 0.1,
    now: () => T0 + Math.round(market.time * 1000),
  });
  const seq = new Map<string, number>();
  const next = (k: string) => {
    const v = (seq.get(k) ?? 0) + 1;
    seq.set(k, v);
    return v;
  };
  const levels = (inst: Instrument, ch: Iterable<[number, number]>): Level[] =>
    [...ch].map(([t, lots]) => [Number(inst.price(t)), Number(inst.qty(lots))]);
  const windows = new Map<Instrument, DepthWindow>();
  const held = new Map<Instrument, { start: number; latest: Liquidation }>();
  const lastTicker = new Map<Instrument, number>();
  const header = (inst: Instrument, ts: number, stream: string) => ({ venue: inst.spec.venue, symbol: inst.spec.symbol, ts, recvTs: ts, seq: next(`${inst.key}:${stream}`) });

  for (const inst of market.instruments.values()) {
    const depth = WINDOW[inst.spec.venue] ?? 0;
    let bids: Level[];
    let asks: Level[];
    if (depth > 0) {
      const w = new DepthWindow(inst, depth, false);
      windows.set(inst, w);
      bids = levels(inst, w.view('bid'));
      asks = levels(inst, w.view('ask'));
    } else {
      bids = inst.levels('bid');
      asks = inst.levels('ask');
    }
    bus.publish('md.book', inst.key, { type: 'book_snapshot', ...header(inst, T0, 'book'), bids, asks, depthLimit: depth });
  }

  const flushSample = (inst: Instrument, ts: number, force = false) => {
    const h = held.get(inst);
    if (h && (force || ts - h.start >= 1000)) {
      held.delete(inst);
      bus.publish('md.liquidation', inst.key, { ...h.latest, seq: next(`${inst.key}:liq`) });
    }
  };
  market.on('step', (steps: InstrumentStep[]) => {
    for (const st of steps) {
      const inst = st.inst;
      const ts = st.ts;
      const w = windows.get(inst);
      const ch = w ? w.advance() : { bids: st.bids, asks: st.asks };
      if (ch.bids.size + ch.asks.size > 0) {
        bus.publish('md.book', inst.key, { type: 'book_delta', ...header(inst, ts, 'book'), bids: levels(inst, ch.bids), asks: levels(inst, ch.asks) });
      }
      for (const tr of st.trades) {
        bus.publish('md.trade', inst.key, {
          type: 'trade',
          ...header(inst, ts, 'trade'),
          id: String(tr.id),
          price: Number(inst.price(tr.priceTicks)),
          amount: Number(inst.qty(tr.lots)),
          side: tr.side,
          liquidation: false,
        });
      }
      const sampled = SAMPLED.has(inst.spec.venue);
      for (const l of st.liquidations) {
        const price = Number(inst.price(l.priceTicks));
        const amount = Number(inst.qty(l.lots));
        const ev: Liquidation = {
          type: 'liquidation',
          venue: inst.spec.venue,
          symbol: inst.spec.symbol,
          ts,
          recvTs: ts,
          seq: 0,
          id: String(l.id),
          liquidatedPosition: l.position,
          price,
          amount,
          notional: price * amount,
          completeness: sampled ? 'lower_bound' : 'complete',
        };
        if (!sampled) {
          bus.publish('md.liquidation', inst.key, { ...ev, seq: next(`${inst.key}:liq`) });
          continue;
        }
        flushSample(inst, ts);
        const h = held.get(inst);
        if (h) h.latest = ev;
        else held.set(inst, { start: ts, latest: ev });
      }
      if (sampled) flushSample(inst, ts);
      const tickerSec = Math.floor(ts / 1000);
      if (st.ticker && tickerSec !== lastTicker.get(inst)) {
        lastTicker.set(inst, tickerSec);
        bus.publish('md.ticker', inst.key, {
          type: 'ticker',
          ...header(inst, ts, 'ticker'),
          markPrice: st.ticker.mark,
          indexPrice: st.ticker.index,
          lastPrice: null,
          fundingRate: st.ticker.fundingRate,
          nextFundingTime: st.ticker.nextFundingTime,
          openInterest: Number(inst.qty(st.ticker.openInterestLots)),
        });
      }
    }
  });
  return {
    market,
    engine,
    alerts,
    advance(seconds, each) {
      const end = market.time + seconds - 1e-6;
      let sec = Math.floor(market.time + 1e-6);
      while (market.time < end) {
        market.step();
        const now = Math.floor(market.time + 1e-6);
        if (now !== sec) {
          sec = now;
          each?.(sec);
        }
      }
    },
  };
}

const depth2Bid = (d: DepthMetrics) => d.bands.find((b) => b.pct === 2)!.bidQuote;
const keyOf = (a: Alert) => (a.scope === 'asset' ? `*:${a.asset}` : `${a.venue}:${a.symbol}`);

describe('simulated market → engine (default config): cascade alerts', () => {
  it('the default scenario raises staged alerts watch → warning → critical → resolved on every perp and asset within 4 minutes', async () => {
    const venues: VenueId[] = ['binance-futures', 'bybit'];
    const run = await simulate(venues, 'default', 0.1);
    const { engine, alerts } = run;
    const HARD = ['binance-futures', 'BTC/USDT:USDT'] as const; // full-depth book, sampled liquidations

    // Warm-up: 75 s of calm; every symbol's baselines are warm before the cascade begins.
    run.advance(74);
    for (const inst of run.market.instruments.values()) expect(engine.symbolStats(inst.spec.venue, inst.spec.symbol)!.baselines.warm, inst.key).toBe(true);
    const pre = engine.symbolStats(...HARD)!;
    const depthBase = pre.baselines.depth2PctBidQuote!;
    const spreadBase = pre.baselines.spreadBps!;
    const preMid = pre.depth!.mid;
    expect(depthBase).toBeGreaterThan(50e6); // BTC perp, 2 % per side: $50–150 M
    expect(depthBase).toBeLessThan(150e6);
    expect(alerts).toEqual([]);

    // The cascade (75 s) and its aftermath, watched on the hardest-hit full-depth book.
    const first = { shock: Infinity, pressure: Infinity, withdrawal: Infinity };
    let peakLiq = 0;
    let minDepth = Infinity;
    let maxSpread = 0;
    let minMid = Infinity;
    run.advance(240 - 74, (sec) => {
      const s = engine.symbolStats(...HARD)!;
      const liq = s.liquidations.find((w) => w.windowSec === 60)!.longNotional;
      const depth = depth2Bid(s.depth!);
      peakLiq = Math.max(peakLiq, liq);
      minDepth = Math.min(minDepth, depth);
      maxSpread = Math.max(maxSpread, s.depth!.spreadBps);
      minMid = Math.min(minMid, s.depth!.mid);
      if (s.depth!.mid <= preMid * 0.997) first.shock = Math.min(first.shock, sec);
      if (liq >= 0.25 * depthBase) first.pressure = Math.min(first.pressure, sec);
      if (depth <= depthBase / 2) first.withdrawal = Math.min(first.withdrawal, sec);
    });
    // Realistic order and size: price shock → liquidation surge → liquidity withdrawal.
    expect(first.shock).toBeGreaterThanOrEqual(75);
    expect(first.shock).toBeLessThanOrEqual(first.pressure);
    expect(first.pressure).toBeLessThan(first.withdrawal);
    expect(peakLiq / depthBase).toBeGreaterThanOrEqual(0.4); // even Binance's 1/s sample
    expect(depthBase / minDepth).toBeGreaterThanOrEqual(10);
    expect(maxSpread / spreadBase).toBeGreaterThanOrEqual(5);
    expect(minMid / preMid).toBeLessThan(0.98);
    expect(minMid / preMid).toBeGreaterThan(0.95);
    const after = engine.symbolStats(...HARD)!;
    expect(depth2Bid(after.depth!) / depthBase).toBeGreaterThan(0.5); // recovering
    expect(after.depth!.spreadBps / spreadBase).toBeLessThan(2);

    // Alerts: exactly one bid-side (long) cascade per perp and per asset, staged and resolved; nothing else.
    const byKey = new Map<string, Alert[]>();
    for (const a of alerts) byKey.set(`${keyOf(a)}:${a.side}`, [...(byKey.get(`${keyOf(a)}:${a.side}`) ?? []), a]);
    const perps = [...run.market.instruments.values()].filter((i) => i.spec.derivative).map((i) => i.key);
    const expected = [...perps, '*:BTC', '*:ETH', '*:SOL'].map((k) => `${k}:bid`).sort();
    expect([...byKey.keys()].sort()).toEqual(expected);
    for (const [key, msgs] of byKey) {
      expect(msgs.every((a) => a.kind === 'cascade' && a.ts >= T0 + 75_000), key).toBe(true);
      expect(new Set(msgs.map((a) => a.id)).size, key).toBe(1);
      expect([msgs[0].state, msgs[0].severity], key).toEqual(['open', 'watch']);
      const rank = { watch: 1, warning: 2, critical: 3 };
      for (let i = 1; i < msgs.length; i++) expect(rank[msgs[i].severity], key).toBeGreaterThanOrEqual(rank[msgs[i - 1].severity]);
      const at = (sev: Alert['severity']) => msgs.findIndex((a) => a.severity === sev);
      expect(at('warning'), key).toBeGreaterThan(0);
      expect(at('critical'), key).toBeGreaterThan(at('warning'));
      const last = msgs[msgs.length - 1];
      expect(last.state, key).toBe('resolved');
      expect(msgs.filter((a) => a.state === 'resolved').length, key).toBe(1);
      expect(last.ts, key).toBeLessThanOrEqual(T0 + 240_000);
    }
    // Critical carries the confirmations a real cascade shows on the hardest-hit book.
    const crit = byKey.get(`${HARD.join(':')}:bid`)!.filter((a) => a.severity === 'critical' && a.state !== 'resolved');
    expect(crit.some((a) => a.stage.includes('depth_collapse') && a.stage.includes('spread') && a.stage.includes('price_move'))).toBe(true);
  }, 60_000);

  it('the calm scenario raises no alert over 60 simulated minutes', async () => {
    // 1 s steps; order flow at a fifth of the default rate keeps the hour fast: the book relaxes to
    // the same stationary depth, and liquidations (what pressure counts) are the default process.
    const run = await simulate(['binance-futures', 'bybit'], 'calm', 1, { levelChangeRate: 30 });
    run.advance(3600);
    expect(run.alerts).toEqual([]);
    for (const inst of run.market.instruments.values()) {
      const s = run.engine.symbolStats(inst.spec.venue, inst.spec.symbol)!;
      expect(s.baselines.warm).toBe(true);
      // Stationary book: the hour's 2 % depth baseline and the book at the end agree.
      expect(s.baselines.depth2PctBidRatio!, inst.key).toBeGreaterThan(0.67);
      expect(s.baselines.depth2PctBidRatio!, inst.key).toBeLessThan(1.5);
    }
  }, 60_000);
});
