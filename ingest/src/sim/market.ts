import { EventEmitter } from 'node:events';
import { assetOf, type Level, type VenueId } from '@depthwatch/schemas';
import { Prng } from './prng.ts';
import { CALM, CASCADE_SECONDS, cascadeEffect, cascadeStarts, type CascadeEffect, type ScenarioName } from './scenario.ts';

/**
 * The simulated market: one price path per asset (so BTC moves together on every venue), one L2
 * book per (venue, symbol) instrument kept in integer ticks and integer lots (exact, so the
 * collector's book can be compared for equality), order flow, trades, liquidations and
 * mark/index/funding/OI. Deterministic for a seed: state depends only on the number of steps.
 * Wall-clock time is used only for message timestamps and the step timer.
 */

export interface InstrumentSpec {
  venue: VenueId;
  symbol: string;
  /** Venue id (BTCUSDT) for protocol front ends. */
  venueSymbol: string;
  tick: number;
  lot: number;
  startMid: number;
  /** Derivatives carry mark/index/funding/OI and liquidations. */
  derivative: boolean;
  /** Inverse contracts: `lot` is in quote (USD per contract), so level sizes are set in quote. */
  inverse?: boolean;
}

export interface SimTrade {
  id: number;
  priceTicks: number;
  lots: number;
  side: 'buy' | 'sell';
}

export interface SimLiquidation {
  id: number;
  /** Liquidated position: a long is closed by a SELL order. */
  position: 'long' | 'short';
  priceTicks: number;
  lots: number;
  /** The trade (in the same step's `trades`) that filled it. */
  tradeId: number;
}

export interface SimTicker {
  mark: number;
  index: number;
  fundingRate: number;
  nextFundingTime: number;
  openInterestLots: number;
}

/** What one step changed for one instrument. Level maps are price ticks → lots (0 = removed). */
export interface InstrumentStep {
  inst: Instrument;
  ts: number;
  bids: Map<number, number>;
  asks: Map<number, number>;
  trades: SimTrade[];
  liquidations: SimLiquidation[];
  ticker: SimTicker | null;
}

export interface MarketOptions {
  instruments: InstrumentSpec[];
  seed?: number;
  scenario?: ScenarioName;
  /** Scenario seconds per wall second (20 = a 90 s cascade in 4.5 s). */
  timeScale?: number;
  /** Wall ms between steps (the 100 ms depth cadence). */
  stepMs?: number;
  /** Level changes per scenario second per instrument in calm conditions. */
  levelChangeRate?: number;
  /** Trades per scenario second per instrument in calm conditions. */
  tradeRate?: number;
  /** Liquidations per scenario second per derivative instrument in calm conditions. */
  liquidationRate?: number;
  /** Resting levels per side. */
  levelsPerSide?: number;
  now?: () => number;
}

const decimals = (x: number) => {
  const s = x.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]);
  return s.includes('.') ? s.split('.')[1].length : 0;
};

export class Instrument {
  readonly key: string;
  readonly asset: string;
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();
  readonly priceDecimals: number;
  readonly lotDecimals: number;
  bestBid = 0;
  bestAsk = 0;
  tradeSeq = 1;
  liqSeq = 1;
  openInterestLots: number;
  /** Bid-depth multiplier currently applied to resting bids within 2 % (cascade withdrawal). */
  appliedBidMul = 1;
  readonly baseLots: number;

  constructor(
    readonly spec: InstrumentSpec,
    readonly rng: Prng,
  ) {
    this.key = `${spec.venue}:${spec.symbol}`;
    this.asset = assetOf(spec.symbol);
    this.priceDecimals = decimals(spec.tick);
    this.lotDecimals = decimals(spec.lot);
    // ~$20k per level near the touch, whatever the price.
    this.baseLots = Math.max(1, Math.round((spec.inverse ? 20_000 : 20_000 / spec.startMid) / spec.lot));
    this.openInterestLots = this.baseLots * 50_000;
  }

  price(ticks: number): string {
    return (ticks * this.spec.tick).toFixed(this.priceDecimals);
  }

  qty(lots: number): string {
    return (lots * this.spec.lot).toFixed(this.lotDecimals);
  }

  levels(side: 'bid' | 'ask', limit = Infinity): Level[] {
    const m = side === 'bid' ? this.bids : this.asks;
    const keys = [...m.keys()].sort(side === 'bid' ? (a, b) => b - a : (a, b) => a - b).slice(0, limit);
    return keys.map((t) => [Number(this.price(t)), Number(this.qty(m.get(t)!))]);
  }
}

export interface MarketCounters {
  steps: number;
  trades: Record<string, number>;
  liquidations: Record<string, number>;
  levelChanges: Record<string, number>;
}

export class Market extends EventEmitter {
  readonly instruments = new Map<string, Instrument>();
  readonly counters: MarketCounters = { steps: 0, trades: {}, liquidations: {}, levelChanges: {} };
  private readonly assetMid = new Map<string, { mid: number; start: number }>();
  private readonly assetRng: Prng;
  private readonly cascades = new Map<string, number>(); // asset → scenario second the cascade began
  private readonly o: Required<Omit<MarketOptions, 'instruments'>>;
  private timer: NodeJS.Timeout | null = null;
  private _paused = false;
  /** Scenario seconds elapsed. */
  time = 0;
  private nextScheduled: number | null;

  constructor(opts: MarketOptions) {
    super();
    this.o = {
      seed: opts.seed ?? 42,
      scenario: opts.scenario ?? 'default',
      timeScale: opts.timeScale ?? 1,
      stepMs: opts.stepMs ?? 100,
      levelChangeRate: opts.levelChangeRate ?? 150,
      tradeRate: opts.tradeRate ?? 8,
      liquidationRate: opts.liquidationRate ?? 0.05,
      levelsPerSide: opts.levelsPerSide ?? 1200,
      now: opts.now ?? Date.now,
    };
    this.assetRng = Prng.derive(this.o.seed, 'assets');
    const sched = cascadeStarts(this.o.scenario);
    this.nextScheduled = sched ? sched.first : null;
    for (const spec of opts.instruments) {
      const inst = new Instrument(spec, Prng.derive(this.o.seed, `${spec.venue}:${spec.symbol}`));
      this.instruments.set(inst.key, inst);
      if (!this.assetMid.has(inst.asset)) this.assetMid.set(inst.asset, { mid: spec.startMid, start: spec.startMid });
      this.seedBook(inst);
      this.counters.trades[inst.key] = 0;
      this.counters.liquidations[inst.key] = 0;
      this.counters.levelChanges[inst.key] = 0;
    }
  }

  get paused(): boolean {
    return this._paused;
  }

  get timeScale(): number {
    return this.o.timeScale;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this._paused) this.step();
    }, this.o.stepMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stop producing; front ends flush anything they hold so the wire is quiescent. */
  pause(): void {
    this._paused = true;
    this.emit('pause');
  }

  resume(): void {
    this._paused = false;
    this.emit('resume');
  }

  /** Begin a cascade now on one asset (default: every asset). */
  startCascade(asset?: string): void {
    for (const a of this.assetMid.keys()) if (!asset || a === asset) this.cascades.set(a, this.time);
  }

  cascadeActive(asset: string): boolean {
    const t0 = this.cascades.get(asset);
    return t0 !== undefined && this.time - t0 < CASCADE_SECONDS;
  }

  effect(asset: string): CascadeEffect {
    const t0 = this.cascades.get(asset);
    return t0 === undefined ? CALM : cascadeEffect(this.time - t0);
  }

  instrument(venue: string, symbol: string): Instrument {
    const i = this.instruments.get(`${venue}:${symbol}`);
    if (!i) throw new Error(`sim: no instrument ${venue}:${symbol}`);
    return i;
  }

  /** The exact current book (what a correctly synced collector must hold). */
  book(venue: string, symbol: string): { bids: Level[]; asks: Level[] } {
    const i = this.instrument(venue, symbol);
    return { bids: i.levels('bid'), asks: i.levels('ask') };
  }

  /** Advance one step of `stepMs × timeScale` scenario ms. Public so tests can drive it without timers. */
  step(): void {
    const dt = (this.o.stepMs / 1000) * this.o.timeScale;
    this.time += dt;
    this.counters.steps++;
    if (this.nextScheduled !== null && this.time >= this.nextScheduled) {
      this.startCascade();
      this.nextScheduled += cascadeStarts(this.o.scenario)!.every;
    }
    for (const [asset, a] of this.assetMid) {
      const eff = this.effect(asset);
      // ~1 bp/√s diffusion plus the scenario's drift, mean-reverting gently to the start price when calm.
      const revert = eff.drift === 0 && !this.cascadeActive(asset) ? ((a.start - a.mid) / a.start) * 0.002 * dt : 0;
      a.mid *= 1 + eff.drift * dt + revert + 1e-4 * Math.sqrt(dt) * this.assetRng.gauss();
    }
    const ts = this.o.now();
    const out: InstrumentStep[] = [];
    for (const inst of this.instruments.values()) out.push(this.stepInstrument(inst, dt, ts));
    this.emit('step', out);
  }

  // ---- model

  private seedBook(inst: Instrument): void {
    const mid = inst.spec.startMid / inst.spec.tick;
    inst.bestBid = Math.floor(mid - 0.5);
    inst.bestAsk = inst.bestBid + 1;
    for (let k = 0; k < this.o.levelsPerSide; k++) {
      const d = this.offset(inst, k);
      inst.bids.set(inst.bestBid - d, this.size(inst, k, 1));
      inst.asks.set(inst.bestAsk + d, this.size(inst, k, 1));
    }
  }

  /** Distance in ticks of the k-th level from the touch: dense near the touch, sparse far out (to ~5 %). */
  private offset(inst: Instrument, k: number): number {
    const ticksAt5pct = (0.05 * inst.spec.startMid) / inst.spec.tick;
    const n = this.o.levelsPerSide;
    const c = Math.max(0, (ticksAt5pct - n) / (n * n));
    return Math.round(k + c * k * k);
  }

  /** Sizes grow away from the touch; lognormal noise. */
  private size(inst: Instrument, k: number, mul: number): number {
    return Math.max(1, Math.round(inst.baseLots * (0.3 + k / 150) * Math.exp(0.6 * inst.rng.gauss()) * mul));
  }

  private within2pct(inst: Instrument, ticks: number): boolean {
    return ticks >= inst.bestBid * 0.98;
  }

  private stepInstrument(inst: Instrument, dt: number, ts: number): InstrumentStep {
    const rng = inst.rng;
    const eff = this.effect(inst.asset);
    const a = this.assetMid.get(inst.asset)!;
    const midTicks = (a.mid * (inst.spec.startMid / a.start)) / inst.spec.tick;
    const bids = new Map<number, number>();
    const asks = new Map<number, number>();
    const set = (side: 'bid' | 'ask', t: number, lots: number) => {
      const book = side === 'bid' ? inst.bids : inst.asks;
      const ch = side === 'bid' ? bids : asks;
      if (lots <= 0) {
        if (!book.has(t)) return;
        book.delete(t);
        ch.set(t, 0);
      } else {
        if (book.get(t) === lots) return;
        book.set(t, lots);
        ch.set(t, lots);
      }
    };

    // Touch follows the mid with the scenario's spread; crossed levels are pulled.
    const half = 0.5 * eff.spread;
    inst.bestBid = Math.floor(midTicks - half);
    inst.bestAsk = inst.bestBid + Math.max(1, Math.round(2 * half));
    for (const t of [...inst.bids.keys()]) if (t > inst.bestBid) set('bid', t, 0);
    for (const t of [...inst.asks.keys()]) if (t < inst.bestAsk) set('ask', t, 0);
    const bidMul = eff.bidDepth;
    if (!inst.bids.has(inst.bestBid)) set('bid', inst.bestBid, this.size(inst, 0, bidMul));
    if (!inst.asks.has(inst.bestAsk)) set('ask', inst.bestAsk, this.size(inst, 0, 1));

    // Depth withdrawal / return: rescale resting bids within 2 % when the target moved > 10 %.
    if (Math.abs(bidMul - inst.appliedBidMul) / inst.appliedBidMul > 0.1) {
      const r = bidMul / inst.appliedBidMul;
      for (const [t, lots] of inst.bids) if (this.within2pct(inst, t)) set('bid', t, Math.max(1, Math.round(lots * r)));
      inst.appliedBidMul = bidMul;
    }

    // Order flow: adds, size changes and cancels, biased to the touch; population held near target.
    const n = rng.poisson(this.o.levelChangeRate * dt);
    const target = this.o.levelsPerSide;
    for (let i = 0; i < n; i++) {
      const side = rng.next() < 0.5 ? 'bid' : 'ask';
      const book = side === 'bid' ? inst.bids : inst.asks;
      const k = Math.floor(target * rng.next() ** 2);
      const t = side === 'bid' ? inst.bestBid - this.offset(inst, k) : inst.bestAsk + this.offset(inst, k);
      const mul = side === 'bid' && this.within2pct(inst, t) ? inst.appliedBidMul : 1;
      const cancelBias = book.size > target ? 0.45 : 0.25;
      if (book.has(t) && t !== (side === 'bid' ? inst.bestBid : inst.bestAsk) && rng.next() < cancelBias) set(side, t, 0);
      else set(side, t, this.size(inst, k, mul));
    }
    // Far levels drift out of the 6 % window as price moves: drop them so the book stays bounded.
    if (inst.bids.size > target * 1.3) for (const t of [...inst.bids.keys()]) if (t < inst.bestBid * 0.94) set('bid', t, 0);
    if (inst.asks.size > target * 1.3) for (const t of [...inst.asks.keys()]) if (t > inst.bestAsk * 1.06) set('ask', t, 0);

    // Trades hit the touch and consume it.
    const trades: SimTrade[] = [];
    const hit = (side: 'buy' | 'sell', lots: number): SimTrade => {
      const book = side === 'buy' ? inst.asks : inst.bids;
      const t = side === 'buy' ? inst.bestAsk : inst.bestBid;
      const rest = book.get(t) ?? 0;
      const take = Math.max(1, Math.min(lots, rest || lots));
      if (rest > 0) set(side === 'buy' ? 'ask' : 'bid', t, rest - take > 0 ? rest - take : 0);
      const tr = { id: inst.tradeSeq++, priceTicks: t, lots: take, side };
      trades.push(tr);
      return tr;
    };
    const nt = rng.poisson(this.o.tradeRate * eff.tradeRate * dt);
    for (let i = 0; i < nt; i++) {
      const side = rng.next() < eff.sellShare ? 'sell' : 'buy';
      hit(side, Math.max(1, Math.round(inst.baseLots * 0.05 * Math.exp(rng.gauss()))));
    }

    const liquidations: SimLiquidation[] = [];
    let ticker: SimTicker | null = null;
    if (inst.spec.derivative) {
      const nl = rng.poisson(this.o.liquidationRate * eff.liquidationRate * dt);
      for (let i = 0; i < nl; i++) {
        const position = rng.next() < eff.longShare ? 'long' : 'short';
        const lots = Math.max(1, Math.round(inst.baseLots * 0.2 * Math.exp(rng.gauss())));
        // A liquidated long is a market sell into the bids (and shows up as a trade too).
        const tr = hit(position === 'long' ? 'sell' : 'buy', lots);
        liquidations.push({ id: inst.liqSeq++, position, priceTicks: tr.priceTicks, lots: tr.lots, tradeId: tr.id });
        inst.openInterestLots = Math.max(inst.baseLots, inst.openInterestLots - tr.lots);
      }
      inst.openInterestLots += Math.round(inst.baseLots * 0.5 * rng.gauss());
      inst.openInterestLots = Math.max(inst.baseLots, inst.openInterestLots);
      const mid = ((inst.bestBid + inst.bestAsk) / 2) * inst.spec.tick;
      const index = mid * (1 - 0.0001 + 0.00005 * rng.gauss());
      const mark = mid * (1 + 0.00002 * rng.gauss());
      const eightHours = 8 * 3600_000;
      ticker = {
        mark,
        index,
        fundingRate: Math.max(-0.0075, Math.min(0.0075, 0.0001 + ((mark - index) / index) * 0.1)),
        nextFundingTime: Math.ceil((ts + 1) / eightHours) * eightHours,
        openInterestLots: inst.openInterestLots,
      };
    }
    this.counters.trades[inst.key] += trades.length;
    this.counters.liquidations[inst.key] += liquidations.length;
    this.counters.levelChanges[inst.key] += bids.size + asks.size;
    return { inst, ts, bids, asks, trades, liquidations, ticker };
  }
}
