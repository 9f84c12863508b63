import { EventEmitter } from 'node:events';
import { assetOf, type Level, type VenueId } from '@depthwatch/schemas';
import { Prng } from './prng.ts';
import { CALM, CASCADE_SECONDS, cascadeEffect, cascadeStarts, type CascadeEffect, type ScenarioName } from './scenario.ts';

/**
 * The simulated market: one price path per asset (so BTC moves together on every venue), one L2
 * book per (venue, symbol) instrument kept in integer ticks and integer lots (exact, so the
 * collector's book can be compared for equality), order flow, trades, liquidations and
 * mark/index/funding/OI. Deterministic for a seed: state depends only on the number of steps.
 * Wall-clock time is used only for message timestamps (`now`, replaceable: tests pass a clock that
 * follows scenario time) and the step timer.
 *
 * The book is stationary: levels live on a grid of distance buckets from the touch (one tick wide
 * at the touch, widening to ~1 % of the 5 % range at the far end); order flow keeps about one
 * level per bucket (adds into empty buckets, cancels surplus levels, otherwise size changes), so
 * the 2 % depth fluctuates around `depthScale` × ~$55 M per side whatever the price does.
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
  /** Book size multiplier (1 ≈ $55 M within 2 % per side); default `defaultDepthScale(venue, asset)`. */
  depthScale?: number;
}

const ASSET_DEPTH: Record<string, number> = { BTC: 1.6, ETH: 0.8, SOL: 0.25 };
const VENUE_DEPTH: Partial<Record<VenueId, number>> = {
  'binance-futures': 1,
  bybit: 0.7,
  okx: 0.6,
  binance: 0.35,
  coinbase: 0.3,
  deribit: 0.25,
  kraken: 0.15,
};

/**
 * Relative book size per venue and asset: BTC on Binance USD-M ≈ $89 M within 2 % per side, ETH
 * half that, SOL a sixth; other venues proportionally thinner.
 */
export function defaultDepthScale(venue: VenueId, asset: string): number {
  return (ASSET_DEPTH[asset] ?? 0.1) * (VENUE_DEPTH[venue] ?? 0.3);
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
  /** Resting levels per side, on average (spread over distance buckets out to 5 %). */
  levelsPerSide?: number;
  /** Message timestamps (epoch ms); default `Date.now`. Tests pass e.g. `() => T0 + market.time * 1000`. */
  now?: () => number;
}

/** First index of `a` (ascending) holding a value ≥ x. */
export function lowerBound(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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
  /**
   * Sorted index of the levels (maintained by `write`; read-only for others): per side, ascending
   * keys with the best level at the end — key = tick for bids, −tick for asks — so order flow
   * near the touch shifts only the few elements above it.
   */
  readonly keys: Record<'bid' | 'ask', number[]> = { bid: [], ask: [] };
  readonly priceDecimals: number;
  readonly lotDecimals: number;
  bestBid = 0;
  bestAsk = 0;
  tradeSeq = 1;
  liqSeq = 1;
  openInterestLots: number;
  /** Bid-depth multiplier currently applied to every resting bid (cascade withdrawal). */
  appliedBidMul = 1;
  /** Lots of a level near the touch (before the distance profile and noise). */
  readonly baseLots: number;
  /** Expected lots within 2 % of the mid per side in calm conditions (set by the market). */
  depth2Lots = 0;
  /** Distance (ticks from the touch) where each order-flow bucket begins, plus the end (set by the market). */
  bucketEdges = new Int32Array(0);

  constructor(
    readonly spec: InstrumentSpec,
    readonly rng: Prng,
  ) {
    this.key = `${spec.venue}:${spec.symbol}`;
    this.asset = assetOf(spec.symbol);
    this.priceDecimals = decimals(spec.tick);
    this.lotDecimals = decimals(spec.lot);
    // ~$20k × depthScale per level near the touch, whatever the price.
    const scale = spec.depthScale ?? defaultDepthScale(spec.venue, this.asset);
    this.baseLots = Math.max(1, Math.round(((spec.inverse ? 20_000 : 20_000 / spec.startMid) * scale) / spec.lot));
    this.openInterestLots = this.baseLots * 50_000;
  }

  price(ticks: number): string {
    return (ticks * this.spec.tick).toFixed(this.priceDecimals);
  }

  qty(lots: number): string {
    return (lots * this.spec.lot).toFixed(this.lotDecimals);
  }

  /** Sets (lots > 0) or removes a level, keeping the sorted tick index; false when nothing changed. */
  write(side: 'bid' | 'ask', t: number, lots: number): boolean {
    const book = side === 'bid' ? this.bids : this.asks;
    const keys = this.keys[side];
    const key = side === 'bid' ? t : -t;
    if (lots <= 0) {
      if (!book.delete(t)) return false;
      if (keys[keys.length - 1] === key) keys.pop();
      else keys.splice(lowerBound(keys, key), 1);
      return true;
    }
    const old = book.get(t);
    if (old === lots) return false;
    if (old === undefined) {
      if (keys.length === 0 || key > keys[keys.length - 1]) keys.push(key);
      else keys.splice(lowerBound(keys, key), 0, key);
    }
    book.set(t, lots);
    return true;
  }

  /** Price ticks of one side, best first, at most `limit`. */
  ticks(side: 'bid' | 'ask', limit = Infinity): number[] {
    const keys = this.keys[side];
    const n = Math.min(limit, keys.length);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = side === 'bid' ? keys[keys.length - 1 - i] : -keys[keys.length - 1 - i];
    return out;
  }

  levels(side: 'bid' | 'ask', limit = Infinity): Level[] {
    const m = side === 'bid' ? this.bids : this.asks;
    return this.ticks(side, limit).map((t) => [Number(this.price(t)), Number(this.qty(m.get(t)!))]);
  }
}

export interface MarketCounters {
  steps: number;
  trades: Record<string, number>;
  liquidations: Record<string, number>;
  levelChanges: Record<string, number>;
}

/** Share of distance buckets holding a level in the stationary book. */
const BUCKET_FILL = 0.9;
/** Cancel probability of a bucket's single level per order-flow event: fill = 1 / (1 + cancel). */
const BUCKET_CANCEL = 1 / BUCKET_FILL - 1;
/** A market order walks at most this many buckets deep; the rest fills at the last level reached. */
const SWEEP_BUCKETS = 50;

export class Market extends EventEmitter {
  readonly instruments = new Map<string, Instrument>();
  readonly counters: MarketCounters = { steps: 0, trades: {}, liquidations: {}, levelChanges: {} };
  private readonly assetMid = new Map<string, { mid: number; start: number }>();
  private readonly assetRng: Prng;
  private readonly cascades = new Map<string, number>(); // asset → scenario second the cascade began
  private readonly o: Required<Omit<MarketOptions, 'instruments'>>;
  private timer: NodeJS.Timeout | null = null;
  private _paused = false;
  /** Distance buckets per side (about BUCKET_FILL of them hold a level). */
  private readonly buckets: number;
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
    this.buckets = Math.round(this.o.levelsPerSide / BUCKET_FILL);
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
    const ticksAt5pct = (0.05 * inst.spec.startMid) / inst.spec.tick;
    const n = this.buckets;
    const c = Math.max(0, (ticksAt5pct - n) / (n * n));
    inst.bucketEdges = new Int32Array(n + 2);
    for (let k = 0; k <= n + 1; k++) inst.bucketEdges[k] = Math.round(k + c * k * k);
    const mid = inst.spec.startMid / inst.spec.tick;
    inst.bestBid = Math.floor(mid - 0.5);
    inst.bestAsk = inst.bestBid + 1;
    // The stationary state: about one level per distance bucket (see `flow`).
    const ticks2 = (0.02 * inst.spec.startMid) / inst.spec.tick;
    for (let k = 0; k < this.buckets; k++) {
      const d = this.offset(inst, k);
      const gap = this.offset(inst, k + 1) - d;
      if (d <= ticks2) inst.depth2Lots += BUCKET_FILL * this.meanSize(inst, k);
      if (inst.rng.next() >= BUCKET_FILL) continue;
      const j = d + inst.rng.int(gap);
      inst.write('bid', inst.bestBid - j, this.size(inst, k, 1));
      inst.write('ask', inst.bestAsk + j, this.size(inst, k, 1));
    }
    inst.write('bid', inst.bestBid, this.size(inst, 0, 1));
    inst.write('ask', inst.bestAsk, this.size(inst, 0, 1));
  }

  /** Distance in ticks of the k-th bucket from the touch: one tick wide at the touch, wider far out (to ~5 %). */
  private offset(inst: Instrument, k: number): number {
    return inst.bucketEdges[k];
  }

  private meanSize(inst: Instrument, k: number): number {
    return inst.baseLots * (0.3 + k / 150) * Math.exp(0.18); // E[exp(0.6 g)] = exp(0.18)
  }

  /** Sizes grow away from the touch; lognormal noise. */
  private size(inst: Instrument, k: number, mul: number): number {
    return Math.max(1, Math.round(inst.baseLots * (0.3 + k / 150) * Math.exp(0.6 * inst.rng.gauss()) * mul));
  }

  /**
   * One order-flow event on a random distance bucket (biased to the touch): an empty bucket gets a
   * level at a random tick in it; a single level is cancelled with probability BUCKET_CANCEL (so
   * about BUCKET_FILL of the buckets hold a level), otherwise it changes size; a bucket holding
   * several levels (a price move shifted them into it) keeps one with a new size. Whatever the
   * book looked like, it relaxes to the same distribution: no drift.
   */
  private flow(inst: Instrument, set: (side: 'bid' | 'ask', t: number, lots: number) => void): void {
    const rng = inst.rng;
    const n = this.buckets;
    const side = rng.next() < 0.5 ? 'bid' : 'ask';
    const u = rng.next();
    const k = Math.min(n - 1, Math.floor(rng.next() < 0.7 ? n * u * u : n * u));
    const d0 = this.offset(inst, k);
    const gap = Math.max(1, this.offset(inst, k + 1) - d0);
    // The bucket's keys [lo, lo + gap) (key = tick for bids, −tick for asks; the best key is the largest).
    const sign = side === 'bid' ? 1 : -1;
    const lo = sign * (side === 'bid' ? inst.bestBid : inst.bestAsk) - d0 - gap + 1;
    const keys = inst.keys[side];
    const i0 = lowerBound(keys, lo);
    const count = lowerBound(keys, lo + gap) - i0;
    const mul = side === 'bid' ? inst.appliedBidMul : 1;
    if (count === 0) {
      set(side, sign * (lo + rng.int(gap)), this.size(inst, k, mul));
      return;
    }
    if (count === 1 && rng.next() < BUCKET_CANCEL) {
      set(side, sign * keys[i0], 0);
      return;
    }
    // One level stays with a new size; surplus levels (a price move shifted them here) are cancelled.
    const keep = keys[i0 + rng.int(count)];
    for (let j = count - 1; j >= 0; j--) if (keys[i0 + j] !== keep) set(side, sign * keys[i0 + j], 0);
    set(side, sign * keep, this.size(inst, k, mul));
  }

  /** A market order of `lots` walking the book from the touch; what the book cannot show fills at the last level reached. */
  private sweep(inst: Instrument, side: 'buy' | 'sell', lots: number, set: (side: 'bid' | 'ask', t: number, lots: number) => void): { priceTicks: number; lots: number } {
    const bookSide = side === 'buy' ? 'ask' : 'bid';
    const sign = side === 'buy' ? -1 : 1;
    const book = side === 'buy' ? inst.asks : inst.bids;
    const keys = inst.keys[bookSide];
    const bestKey = sign * (side === 'buy' ? inst.bestAsk : inst.bestBid);
    const reach = this.offset(inst, SWEEP_BUCKETS);
    let left = lots;
    let last = sign * bestKey;
    // Best level first (the end of the index); a level taken in full leaves it.
    while (left > 0 && keys.length > 0 && bestKey - keys[keys.length - 1] <= reach) {
      const t = sign * keys[keys.length - 1];
      const rest = book.get(t)!;
      const q = Math.min(rest, left);
      left -= q;
      last = t;
      set(bookSide, t, rest - q);
    }
    return { priceTicks: last, lots };
  }

  private stepInstrument(inst: Instrument, dt: number, ts: number): InstrumentStep {
    const rng = inst.rng;
    const eff = this.effect(inst.asset);
    const a = this.assetMid.get(inst.asset)!;
    const midTicks = (a.mid * (inst.spec.startMid / a.start)) / inst.spec.tick;
    const bids = new Map<number, number>();
    const asks = new Map<number, number>();
    const set = (side: 'bid' | 'ask', t: number, lots: number) => {
      if (inst.write(side, t, lots)) (side === 'bid' ? bids : asks).set(t, Math.max(0, lots));
    };

    // Touch follows the mid with the scenario's spread; crossed levels are pulled, and so are
    // levels that drifted well beyond the 5 % range.
    const half = 0.5 * eff.spread;
    inst.bestBid = Math.floor(midTicks - half);
    inst.bestAsk = inst.bestBid + Math.max(1, Math.round(2 * half));
    const far = Math.round(1.1 * this.offset(inst, this.buckets));
    for (const side of ['bid', 'ask'] as const) {
      const keys = inst.keys[side];
      const sign = side === 'bid' ? 1 : -1;
      const bestKey = sign * (side === 'bid' ? inst.bestBid : inst.bestAsk);
      while (keys.length > 0 && keys[keys.length - 1] > bestKey) set(side, sign * keys[keys.length - 1], 0);
      while (keys.length > 0 && keys[0] < bestKey - far) set(side, sign * keys[0], 0);
    }

    // Liquidity withdrawal / return: rescale every resting bid when the target moved > 20 %.
    const bidMul = eff.bidDepth;
    if (Math.abs(bidMul - inst.appliedBidMul) / inst.appliedBidMul > 0.2 || (bidMul === 1 && inst.appliedBidMul !== 1)) {
      const r = bidMul / inst.appliedBidMul;
      for (const [t, lots] of inst.bids) set('bid', t, Math.max(1, Math.round(lots * r)));
      inst.appliedBidMul = bidMul;
    }

    // Trades, and liquidations (market orders of the liquidated positions) walk the book.
    const trades: SimTrade[] = [];
    const hit = (side: 'buy' | 'sell', lots: number): SimTrade => {
      const f = this.sweep(inst, side, lots, set);
      const tr = { id: inst.tradeSeq++, priceTicks: f.priceTicks, lots: f.lots, side };
      trades.push(tr);
      return tr;
    };
    const nt = rng.poisson(this.o.tradeRate * eff.tradeRate * dt);
    for (let i = 0; i < nt; i++) {
      const side = rng.next() < eff.sellShare ? 'sell' : 'buy';
      hit(side, Math.max(1, Math.round(inst.baseLots * 0.05 * Math.exp(rng.gauss()))));
    }
    const liquidations: SimLiquidation[] = [];
    if (inst.spec.derivative) {
      const nl = rng.poisson(this.o.liquidationRate * eff.liquidationRate * dt);
      for (let i = 0; i < nl; i++) {
        const position = rng.next() < eff.longShare ? 'long' : 'short';
        // Calm: small positions; liquidated longs in a surge: a mean of `liquidationSize` × the calm 2 % depth each (lognormal, σ 0.5).
        const calm = inst.baseLots * 0.2 * Math.exp(0.5);
        const mean = position === 'long' ? Math.max(calm, eff.liquidationSize * inst.depth2Lots) : calm;
        const lots = Math.max(1, Math.round(mean * Math.exp(0.5 * rng.gauss() - 0.125)));
        // A liquidated long is a market sell into the bids (and shows up as a trade too).
        const tr = hit(position === 'long' ? 'sell' : 'buy', lots);
        liquidations.push({ id: inst.liqSeq++, position, priceTicks: tr.priceTicks, lots: tr.lots, tradeId: tr.id });
        inst.openInterestLots = Math.max(inst.baseLots, inst.openInterestLots - tr.lots);
      }
    }

    // Order flow: adds, size changes and cancels, biased to the touch, around a stationary book.
    const n = rng.poisson(this.o.levelChangeRate * dt);
    for (let i = 0; i < n; i++) this.flow(inst, set);
    // The touch is always quoted (a sweep may have taken it).
    if (!inst.bids.has(inst.bestBid)) set('bid', inst.bestBid, this.size(inst, 0, inst.appliedBidMul));
    if (!inst.asks.has(inst.bestAsk)) set('ask', inst.bestAsk, this.size(inst, 0, 1));

    let ticker: SimTicker | null = null;
    if (inst.spec.derivative) {
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
