import {
  assetOf,
  CAPACITY_BPS,
  parseSymbol,
  SYNC_STATES,
  USD_LIKE_QUOTES,
  type Alert,
  type AlertEvidence,
  type AlertSeverity,
  type AlertState,
  type AssetDepth,
  type BlockCapacity,
  type BookEvent,
  type DepthMetrics,
  type FeedStatus,
  type Liquidation,
  type SyncState,
  type Ticker,
  type Trade,
} from '@depthwatch/schemas';
import { L2Book, type BookSideName } from './book/l2-book.ts';
import { BAND_2PCT, blockCapacity, computeDepthMetrics, isTwoSided } from './metrics/depth.ts';
import { SampleRing, SecondBuckets, SecondSeries, WarmEwma } from './metrics/rolling.ts';
import { CascadeTracker, judge, type CascadeInput, type CascadeVerdict, type Transition } from './alerts/cascade.ts';
import { FeedTracker } from './alerts/feed.ts';
import type { EngineConfig } from './config.ts';
import type { AssetStats, Baselines, DerivativesState, LiquidationFlowWindow, SymbolStats } from './types.ts';

/** Liquidation flow windows reported per symbol and asset, seconds. */
export const FLOW_WINDOWS_SEC = [10, 60, 300] as const;

const SIDES: readonly BookSideName[] = ['bid', 'ask'];

export interface EngineOutput {
  depth(key: string, ev: DepthMetrics): void;
  alert(key: string, ev: Alert): void;
  /** Cross-venue aggregate per asset, key `*:ASSET` (optional: absent = not published). */
  assetDepth?(key: string, ev: AssetDepth): void;
}

export type DropReason = 'invalid' | 'no_snapshot' | 'late_liquidation';

export interface EngineCounters {
  events: Record<string, number>;
  dropped: Record<DropReason, number>;
  depthPublished: number;
  assetDepthPublished: number;
  alerts: number;
}

function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

function orNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

/** Compact money formatting for explanations: 1.2M, 350k, 950. */
function money(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  const a = Math.abs(x);
  if (a >= 1e9) return `${(x / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(0)}k`;
  return x.toFixed(0);
}

class SymbolState {
  readonly key: string;
  readonly asset: string;
  readonly usdLike: boolean;
  book: L2Book | null = null;
  lastBookTs = 0;
  depthSeq = 0;
  lastPubTs = -Infinity;
  pending = false;
  /** Wall-clock ms (performance.now) of the last book event, for the live trailing flush only. */
  lastBookWall = 0;
  /** Index 0: bid side (liquidated longs), 1: ask side (liquidated shorts). */
  readonly liq: [SecondBuckets, SecondBuckets];
  /** Last second a lower-bound (sampled) liquidation arrived, per side. */
  readonly lowerBoundSec = [-Infinity, -Infinity];
  readonly firstSec: number;
  derivs: DerivativesState | null = null;
  readonly depthBase: [WarmEwma, WarmEwma];
  readonly spreadBase: WarmEwma;
  readonly winHist: [SampleRing, SampleRing];
  readonly mids: SecondSeries;
  samples = 0;
  readonly trackers: [CascadeTracker, CascadeTracker] = [new CascadeTracker(), new CascadeTracker()];
  // Per-tick scratch (pass 1 → later passes).
  depth2: [number, number] = [NaN, NaN];
  spread = NaN;
  collapsed: [boolean, boolean] = [false, false];
  liqWin: [number, number] = [0, 0];
  priorRate: [number, number] = [NaN, NaN];
  feedHealthy = true;

  constructor(
    readonly venue: string,
    readonly symbol: string,
    sec: number,
    cfg: EngineConfig,
  ) {
    this.key = `${venue}:${symbol}`;
    this.asset = assetOf(symbol);
    const parts = parseSymbol(symbol);
    this.usdLike = parts !== null && USD_LIKE_QUOTES.has(parts.quote);
    const cap = cfg.baselineSec + cfg.windowSec + 2;
    this.liq = [new SecondBuckets(cap), new SecondBuckets(cap)];
    this.firstSec = sec;
    this.depthBase = [new WarmEwma(cfg.baselineSec), new WarmEwma(cfg.baselineSec)];
    this.spreadBase = new WarmEwma(cfg.baselineSec);
    this.winHist = [new SampleRing(cfg.baselineSec, cfg.windowSec), new SampleRing(cfg.baselineSec, cfg.windowSec)];
    this.mids = new SecondSeries(cfg.windowSec + 2);
  }

  warm(cfg: EngineConfig): boolean {
    return this.samples >= cfg.warmupSec;
  }
}

/** Alert ids are deterministic (scope key, side, start): a restarted engine recomputes them to take an alert over. */
const feedAlertId = (key: string, startTs: number): string => `feed:${key}:${startTs}`;
const cascadeAlertId = (key: string, side: BookSideName, startTs: number): string => `cascade:${key}:${side}:${startTs}`;

/** Bounds the memory of this instance's alert ids (one entry per alert, not per update). */
const OWN_ALERTS_REMEMBERED = 10_000;

/** One alert tracker seen from adoptAlert(). */
interface AlertSlot {
  key: string;
  active(): boolean;
  id(): string;
  adopt(a: Alert): boolean;
  close(): void;
}

class AssetState {
  readonly symbols: SymbolState[] = [];
  readonly winHist: [SampleRing, SampleRing];
  readonly trackers: [CascadeTracker, CascadeTracker] = [new CascadeTracker(), new CascadeTracker()];
  samples = 0;
  lastTs = 0;
  /** asset_depth output sequence and event time of the last one published. */
  depthSeq = 0;
  lastPubTs = -Infinity;
  constructor(
    readonly asset: string,
    cfg: EngineConfig,
  ) {
    this.winHist = [new SampleRing(cfg.baselineSec, cfg.windowSec), new SampleRing(cfg.baselineSec, cfg.windowSec)];
  }
}

/**
 * The engine's pure core: consumes market events in order, emits depth and alerts through
 * `out`. Driven only by event timestamps (ticks every whole second of event time); the only
 * wall-clock input is `flushQuiet`, called by the live-mode timer.
 */
export class EngineCore {
  readonly books = new Map<string, L2Book>();
  private readonly symbols = new Map<string, SymbolState>();
  private readonly assets = new Map<string, AssetState>();
  private readonly feeds = new Map<string, FeedTracker>();
  private readonly alertSeq = new Map<string, number>();
  /** Ids of alerts this instance published (bounded, oldest forgotten first): their echo on out.alert is not foreign. */
  private readonly ownAlerts = new Map<string, AlertState>();
  /** Next evaluation time (ms, whole second); NaN before the first event. */
  private nextTick = NaN;
  /** Event-time clock: the newest timestamp seen. */
  clock = -Infinity;
  readonly counters: EngineCounters = {
    events: {},
    dropped: { invalid: 0, no_snapshot: 0, late_liquidation: 0 },
    depthPublished: 0,
    assetDepthPublished: 0,
    alerts: 0,
  };
  /** Hooks for metrics. */
  onDrop: (reason: DropReason) => void = () => {};
  onDepth: () => void = () => {};
  onAlert: (a: Alert) => void = () => {};
  onBooks: (n: number) => void = () => {};

  constructor(
    readonly cfg: EngineConfig,
    private readonly out: EngineOutput,
  ) {}

  // ───────────────────────────── input ─────────────────────────────

  private drop(reason: DropReason): void {
    this.counters.dropped[reason]++;
    this.onDrop(reason);
  }

  private validHeader(ev: { venue?: unknown; symbol?: unknown; ts?: unknown }): boolean {
    return typeof ev.venue === 'string' && typeof ev.symbol === 'string' && ev.symbol.length > 0 && Number.isFinite(ev.ts as number);
  }

  private symbolState(venue: string, symbol: string, ts: number): SymbolState {
    const key = `${venue}:${symbol}`;
    let s = this.symbols.get(key);
    if (!s) {
      s = new SymbolState(venue, symbol, Math.floor(ts / 1000), this.cfg);
      this.symbols.set(key, s);
      let a = this.assets.get(s.asset);
      if (!a) {
        a = new AssetState(s.asset, this.cfg);
        this.assets.set(s.asset, a);
      }
      a.symbols.push(s);
      s.feedHealthy = this.feedHealthy(venue, symbol);
    }
    return s;
  }

  /** Runs every evaluation second up to `ts` (exclusive of events at ts, which come after). */
  private advanceTo(ts: number): void {
    if (ts <= this.clock) return;
    this.clock = ts;
    if (Number.isNaN(this.nextTick)) {
      this.nextTick = (Math.floor(ts / 1000) + 1) * 1000;
      return;
    }
    if (ts < this.nextTick) return;
    const maxGap = this.cfg.maxCatchUpSec * 1000;
    if (ts - this.nextTick > maxGap) this.nextTick = Math.floor((ts - maxGap) / 1000) * 1000;
    while (this.nextTick <= ts) {
      this.tick(this.nextTick);
      this.nextTick += 1000;
    }
  }

  onBook(ev: BookEvent, wallNow = 0): void {
    if (!this.validHeader(ev) || !Array.isArray(ev.bids) || !Array.isArray(ev.asks)) return this.drop('invalid');
    if (ev.type !== 'book_snapshot' && ev.type !== 'book_delta') return this.drop('invalid');
    this.advanceTo(ev.ts);
    const key = `${ev.venue}:${ev.symbol}`;
    let book = this.books.get(key);
    if (ev.type === 'book_snapshot') {
      const s = this.symbolState(ev.venue, ev.symbol, ev.ts);
      if (!book) {
        book = new L2Book(ev.venue, ev.symbol);
        this.books.set(key, book);
        s.book = book;
        this.onBooks(this.books.size);
      }
      book.applySnapshot(ev.bids, ev.asks, Number.isFinite(ev.depthLimit) ? ev.depthLimit : 0);
    } else {
      if (!book) return this.drop('no_snapshot');
      book.applyDelta(ev.bids, ev.asks);
    }
    const s = this.symbols.get(key)!;
    s.lastBookTs = ev.ts;
    s.lastBookWall = wallNow;
    if (ev.ts - s.lastPubTs >= this.cfg.depthIntervalMs) this.publishDepth(s);
    else s.pending = true;
  }

  onLiquidation(ev: Liquidation): void {
    if (!this.validHeader(ev) || (ev.liquidatedPosition !== 'long' && ev.liquidatedPosition !== 'short')) return this.drop('invalid');
    const notional = Number.isFinite(ev.notional) && ev.notional > 0 ? ev.notional : ev.price * ev.amount;
    if (!(notional > 0) || !Number.isFinite(notional)) return this.drop('invalid');
    this.advanceTo(ev.ts);
    const s = this.symbolState(ev.venue, ev.symbol, ev.ts);
    const side = ev.liquidatedPosition === 'long' ? 0 : 1;
    const sec = Math.floor(ev.ts / 1000);
    if (!s.liq[side].add(sec, notional)) return this.drop('late_liquidation');
    if (ev.completeness === 'lower_bound' && sec > s.lowerBoundSec[side]) s.lowerBoundSec[side] = sec;
  }

  onTicker(ev: Ticker): void {
    if (!this.validHeader(ev)) return this.drop('invalid');
    this.advanceTo(ev.ts);
    const s = this.symbolState(ev.venue, ev.symbol, ev.ts);
    const prev = s.derivs;
    const pick = (v: number | null | undefined, old: number | null | undefined): number | null =>
      typeof v === 'number' && Number.isFinite(v) ? v : (old ?? null);
    const markPrice = pick(ev.markPrice, prev?.markPrice);
    const indexPrice = pick(ev.indexPrice, prev?.indexPrice);
    const lastPrice = pick(ev.lastPrice, prev?.lastPrice);
    const openInterest = pick(ev.openInterest, prev?.openInterest);
    const ref = markPrice ?? lastPrice;
    s.derivs = {
      ts: ev.ts,
      markPrice,
      indexPrice,
      lastPrice,
      fundingRate: pick(ev.fundingRate, prev?.fundingRate),
      nextFundingTime: pick(ev.nextFundingTime, prev?.nextFundingTime),
      openInterest,
      openInterestQuote: openInterest !== null && ref !== null ? openInterest * ref : null,
      basisBps: ref !== null && indexPrice !== null && indexPrice > 0 ? ((ref - indexPrice) / indexPrice) * 1e4 : null,
    };
  }

  onTrade(ev: Trade): void {
    if (!this.validHeader(ev)) return this.drop('invalid');
    this.advanceTo(ev.ts);
  }

  onStatus(ev: FeedStatus): void {
    if (!this.validHeader(ev) || typeof ev.state !== 'string') return this.drop('invalid');
    this.advanceTo(ev.ts);
    const key = `${ev.venue}:${ev.symbol}`;
    let t = this.feeds.get(key);
    if (!t) {
      t = new FeedTracker();
      this.feeds.set(key, t);
    }
    const tr = t.onStatus(ev);
    this.refreshFeedHealth(ev.venue, ev.symbol);
    if (!tr || !this.cfg.feedAlerts) return;
    const connection = ev.symbol === '*';
    const what = connection ? `${ev.venue} connection` : `${ev.venue} ${ev.symbol}`;
    const explanation =
      tr.state === 'resolved'
        ? `${what} feed recovered (synced) after ${((ev.ts - tr.startTs) / 1000).toFixed(0)} s`
        : `${what} feed ${ev.state}${ev.reason ? `: ${ev.reason}` : ''}${ev.lagMs !== null && Number.isFinite(ev.lagMs) ? ` (lag ${Math.round(ev.lagMs)} ms)` : ''}`;
    this.emitAlert(key, {
      type: 'alert',
      id: feedAlertId(key, tr.startTs),
      kind: 'feed',
      scope: 'venue',
      venue: ev.venue,
      symbol: ev.symbol,
      asset: connection ? '*' : assetOf(ev.symbol),
      side: 'none',
      stage: tr.stage,
      severity: tr.severity,
      state: tr.state,
      startTs: tr.startTs,
      ts: ev.ts,
      endTs: tr.state === 'resolved' ? ev.ts : null,
      seq: 0,
      evidence: emptyEvidence([ev.venue]),
      explanation,
    });
  }

  /** After a feed tracker changed: the stream's symbols (every symbol of the venue for its connection, symbol '*'). */
  private refreshFeedHealth(venue: string, symbol: string): void {
    for (const s of this.symbols.values()) {
      if (s.venue === venue && (symbol === '*' || s.symbol === symbol)) s.feedHealthy = this.feedHealthy(s.venue, s.symbol);
    }
  }

  private feedHealthy(venue: string, symbol: string): boolean {
    const a = this.feeds.get(`${venue}:${symbol}`);
    const b = this.feeds.get(`${venue}:*`);
    return (a ? a.healthy : true) && (b ? b.healthy : true);
  }

  // ───────────────────────────── output ─────────────────────────────

  private publishDepth(s: SymbolState): void {
    const book = s.book;
    s.pending = false;
    if (!book || !isTwoSided(book)) return;
    s.lastPubTs = s.lastBookTs;
    s.depthSeq++;
    const m = computeDepthMetrics(book, s.lastBookTs, s.depthSeq);
    this.counters.depthPublished++;
    this.onDepth();
    this.out.depth(s.key, m);
  }

  private emitAlert(key: string, a: Alert): void {
    const seq = (this.alertSeq.get(key) ?? 0) + 1;
    this.alertSeq.set(key, seq);
    a.seq = seq;
    this.ownAlerts.delete(a.id);
    this.ownAlerts.set(a.id, a.state);
    if (this.ownAlerts.size > OWN_ALERTS_REMEMBERED) this.ownAlerts.delete(this.ownAlerts.keys().next().value!);
    this.counters.alerts++;
    this.onAlert(a);
    this.out.alert(key, a);
  }

  // ───────────────────────────── continuity across restarts ─────────────────────────────

  /**
   * An alert read back from out.alert. A restarted engine (or a new member of its group) takes over
   * the alerts a previous instance left open, so each one is updated and finally resolved under its
   * own id, instead of staying open forever beside a duplicate. The adopted tracker starts with no
   * hysteresis reference of its own (the opening threshold is not on the wire), so it resolves only
   * once the current pressure threshold has been undercut for `clearAfterSec`: later, never earlier.
   * If this instance already opened its own alert for the scope, the old one is resolved as
   * superseded. This instance's own alerts coming back are recognised by id and ignored.
   */
  adoptAlert(a: Alert): 'own' | 'adopted' | 'closed' | 'superseded' | 'ignored' {
    if (this.ownAlerts.has(a.id)) return 'own';
    const slot = this.alertSlot(a);
    if (!slot) return 'ignored';
    // Keep one increasing seq per alert key across instances.
    if ((this.alertSeq.get(slot.key) ?? 0) < a.seq) this.alertSeq.set(slot.key, a.seq);
    if (a.state === 'resolved') {
      if (!slot.active() || slot.id() !== a.id) return 'ignored';
      slot.close();
      return 'closed';
    }
    if (!slot.active() || slot.id() === a.id) {
      if (!slot.adopt(a)) return 'ignored';
      return 'adopted';
    }
    const ts = Math.max(a.ts, Number.isFinite(this.clock) ? this.clock : a.ts);
    this.emitAlert(slot.key, {
      ...a,
      state: 'resolved',
      stage: 'superseded',
      ts,
      endTs: ts,
      explanation: `superseded by ${slot.id()} after an engine restart: ${a.explanation}`,
    });
    return 'superseded';
  }

  /** The tracker an alert belongs to, with the id it would publish under; null for an alert this engine cannot own. */
  private alertSlot(a: Alert): AlertSlot | null {
    if (typeof a.venue !== 'string' || typeof a.symbol !== 'string' || !Number.isFinite(a.startTs) || !Number.isFinite(a.seq)) return null;
    if (a.kind === 'feed') {
      const key = `${a.venue}:${a.symbol}`;
      let t = this.feeds.get(key);
      const tracker = () => {
        if (!t) {
          t = new FeedTracker();
          this.feeds.set(key, t);
        }
        return t;
      };
      return {
        key,
        active: () => t?.active === true,
        id: () => feedAlertId(key, t?.startTs ?? NaN),
        adopt: (x) => {
          if (x.id !== feedAlertId(key, x.startTs) || !(SYNC_STATES as readonly string[]).includes(x.stage)) return false;
          const f = tracker();
          f.active = true;
          f.severity = x.severity;
          f.startTs = x.startTs;
          f.stage = x.stage as SyncState;
          f.state = x.stage as SyncState;
          this.refreshFeedHealth(a.venue, a.symbol);
          return true;
        },
        close: () => {
          if (t) t.active = false;
        },
      };
    }
    if (a.kind !== 'cascade' || (a.side !== 'bid' && a.side !== 'ask')) return null;
    const side = a.side === 'bid' ? 0 : 1;
    let key: string;
    let trackers: () => [CascadeTracker, CascadeTracker];
    if (a.scope === 'symbol') {
      key = `${a.venue}:${a.symbol}`;
      trackers = () => this.symbolState(a.venue, a.symbol, a.ts).trackers;
    } else if (a.scope === 'asset' && typeof a.asset === 'string') {
      key = `*:${a.asset}`;
      trackers = () => {
        let st = this.assets.get(a.asset);
        if (!st) {
          st = new AssetState(a.asset, this.cfg);
          this.assets.set(a.asset, st);
        }
        return st.trackers;
      };
    } else return null;
    const existing = a.scope === 'symbol' ? this.symbols.get(key)?.trackers[side] : this.assets.get(a.asset)?.trackers[side];
    const idOf = (startTs: number) => cascadeAlertId(key, SIDES[side]!, startTs);
    return {
      key,
      active: () => existing?.active === true,
      id: () => idOf(existing?.startTs ?? NaN),
      adopt: (x) => {
        if (x.id !== idOf(x.startTs)) return false;
        const t = trackers()[side];
        t.active = true;
        t.severity = x.severity;
        t.startTs = x.startTs;
        t.openThreshold = 0;
        t.calmSeconds = 0;
        t.lastPublishTs = x.ts;
        t.stage = x.stage;
        return true;
      },
      close: () => {
        if (existing) existing.active = false;
      },
    };
  }

  /** Live mode: publishes pending depth of symbols whose last book event is older than the interval (wall clock). */
  flushQuiet(wallNow: number): void {
    for (const s of this.symbols.values()) {
      if (s.pending && wallNow - s.lastBookWall >= this.cfg.depthIntervalMs) this.publishDepth(s);
    }
  }

  /** Publishes every pending depth now (end of a replay). */
  flushAll(): void {
    for (const s of this.symbols.values()) if (s.pending) this.publishDepth(s);
  }

  // ───────────────────────────── evaluation ─────────────────────────────

  private tick(T: number): void {
    const cfg = this.cfg;
    const sec = T / 1000;
    const W = cfg.windowSec;
    const winFrom = sec - W;

    // Pass 1: sample every symbol.
    for (const s of this.symbols.values()) {
      const book = s.book;
      const live = book !== null && isTwoSided(book) && s.feedHealthy;
      if (live) {
        s.depth2[0] = book!.bandQuote('bid', BAND_2PCT);
        s.depth2[1] = book!.bandQuote('ask', BAND_2PCT);
        const bb = book!.bestBid();
        const ba = book!.bestAsk();
        const mid = (bb + ba) / 2;
        s.spread = ((ba - bb) / mid) * 1e4;
        s.mids.set(sec, mid);
      } else {
        s.depth2[0] = s.depth2[1] = s.spread = NaN;
      }
      const priorFrom = Math.max(s.firstSec, winFrom - cfg.baselineSec);
      const span = winFrom - priorFrom;
      for (let side = 0; side < 2; side++) {
        s.liqWin[side] = s.liq[side].sum(winFrom, sec);
        s.priorRate[side] = span >= 1 ? s.liq[side].sum(priorFrom, winFrom) / span : NaN;
        const base = s.depthBase[side].value;
        s.collapsed[side] = live && s.depthBase[side].n > 0 && base > 0 && s.depth2[side] <= base / cfg.depthCollapseFactor && s.warm(cfg);
      }
    }

    // Pass 2: symbol detectors.
    const touched = new Set<SymbolState>();
    for (const s of this.symbols.values()) {
      if (!s.book) continue;
      const asset = this.assets.get(s.asset)!;
      for (let side = 0; side < 2; side++) {
        const input = this.symbolInput(s, side, T, asset);
        const tracker = s.trackers[side];
        const floor = cfg.liqFloorSymbol;
        if (input.liqNotional >= floor * cfg.clearFraction || tracker.active) input.liqPercentile = s.winHist[side].percentile(cfg.liqPercentile);
        const verdict = judge(input, floor, cfg);
        const tr = tracker.step(input, verdict, cfg);
        if (tr) {
          this.emitCascade(tr, tracker, verdict, input, side, 'symbol', s.venue, s.symbol, s.asset, s.key, [s.venue], this.lowerBoundVenues([s], side, sec), s.book.bandTruncated(SIDES[side], BAND_2PCT));
          touched.add(s);
        }
      }
    }

    // Pass 3: asset detectors.
    for (const a of this.assets.values()) {
      const members = a.symbols.filter((s) => s.usdLike);
      if (members.length === 0) continue;
      a.lastTs = T;
      let anyLive = false;
      for (let side = 0; side < 2; side++) {
        const agg = this.assetInput(a, members, side, T);
        anyLive ||= agg.live.length > 0;
        const tracker = a.trackers[side];
        const floor = cfg.liqFloorAsset;
        if (agg.input.liqNotional >= floor * cfg.clearFraction || tracker.active) agg.input.liqPercentile = a.winHist[side].percentile(cfg.liqPercentile);
        const verdict = judge(agg.input, floor, cfg);
        const tr = tracker.step(agg.input, verdict, cfg);
        if (tr) {
          const venues = [...new Set(agg.live.map((s) => s.venue))].sort();
          const truncated = agg.live.some((s) => s.book!.bandTruncated(SIDES[side], BAND_2PCT));
          this.emitCascade(tr, tracker, verdict, agg.input, side, 'asset', '*', '*', a.asset, `*:${a.asset}`, venues, this.lowerBoundVenues(members, side, sec), truncated);
          for (const s of agg.live) touched.add(s);
        }
        if (!tracker.active) a.winHist[side].push(agg.input.liqNotional);
        else a.winHist[side].discardPending();
      }
      if (anyLive) a.samples++;
    }

    // Pass 3b: cross-venue asset depth (before the baselines take this second's sample). Only the
    // last evaluation second an event advances the clock to publishes, so a catch-up over an
    // event-time gap yields one asset_depth per asset, not one per skipped second.
    if (this.out.assetDepth && T + 1000 > this.clock) {
      for (const a of this.assets.values()) {
        if (T - a.lastPubTs < cfg.assetIntervalMs) continue;
        const members = a.symbols.filter((s) => s.usdLike);
        if (!members.some((s) => s.book !== null)) continue;
        this.publishAssetDepth(a, members, T);
      }
    }

    // Pass 4: baselines (frozen on a side while an alert is open there, so a cascade does not become "normal").
    for (const s of this.symbols.values()) {
      if (Number.isNaN(s.spread)) continue;
      const asset = this.assets.get(s.asset)!;
      let anyFrozen = false;
      for (let side = 0; side < 2; side++) {
        const frozen = s.trackers[side].active || asset.trackers[side].active;
        anyFrozen ||= frozen;
        if (frozen) {
          s.winHist[side].discardPending();
          continue;
        }
        s.depthBase[side].update(s.depth2[side]);
        s.winHist[side].push(s.liqWin[side]);
      }
      if (!anyFrozen) s.spreadBase.update(s.spread);
      s.samples++;
    }

    // Alert transitions publish the affected books' depth at once; quiet books publish what is pending.
    for (const s of touched) this.publishDepth(s);
    for (const s of this.symbols.values()) {
      if (s.pending && T - s.lastPubTs >= cfg.depthIntervalMs) this.publishDepth(s);
    }
  }

  private publishAssetDepth(a: AssetState, members: SymbolState[], T: number): void {
    const v = this.assetView(members, T / 1000);
    a.lastPubTs = T;
    a.depthSeq++;
    const ev: AssetDepth = {
      type: 'asset_depth',
      venue: '*',
      symbol: '*',
      asset: a.asset,
      ts: T,
      seq: a.depthSeq,
      venues: v.venues,
      depth2PctBidQuote: v.depth2PctBidQuote,
      depth2PctAskQuote: v.depth2PctAskQuote,
      depth2PctBidBaseline: v.depth2PctBidBaseline,
      depth2PctAskBaseline: v.depth2PctAskBaseline,
      depthTruncated: v.depthTruncated,
      liquidations: v.liquidations,
      lowerBoundVenues: v.lowerBoundVenues,
      capacity: v.capacity,
    };
    this.counters.assetDepthPublished++;
    this.out.assetDepth!(`*:${a.asset}`, ev);
  }

  private priceMove(s: SymbolState, side: number, sec: number): number {
    if (Number.isNaN(s.spread)) return NaN;
    const now = s.mids.range(sec, sec).max;
    const r = s.mids.range(sec - this.cfg.windowSec, sec);
    // Bid side (longs liquidated): the fall from the window's high; ask side: the rise from its low.
    return side === 0 ? ((r.max - now) / r.max) * 100 : ((now - r.min) / r.min) * 100;
  }

  private symbolInput(s: SymbolState, side: number, T: number, asset: AssetState): CascadeInput {
    const sec = T / 1000;
    let collapsedVenues = 0;
    if (s.collapsed[side]) {
      const venues = new Set<string>();
      for (const o of asset.symbols) if (o.usdLike && o.collapsed[side]) venues.add(o.venue);
      venues.add(s.venue);
      collapsedVenues = venues.size;
    }
    const base = s.depthBase[side];
    return {
      ts: T,
      liqNotional: s.liqWin[side],
      liqPriorRate: s.priorRate[side],
      liqPercentile: NaN,
      depth: s.depth2[side],
      depthBaseline: base.n > 0 ? base.value : NaN,
      spreadBps: s.spread,
      spreadBaselineBps: s.spreadBase.n > 0 ? s.spreadBase.value : NaN,
      priceMovePct: this.priceMove(s, side, sec),
      collapsedVenues,
      warm: s.warm(this.cfg) && !Number.isNaN(s.spread),
    };
  }

  private assetInput(a: AssetState, members: SymbolState[], side: number, T: number): { input: CascadeInput; live: SymbolState[] } {
    const sec = T / 1000;
    let liq = 0;
    let prior = 0;
    let priorKnown = false;
    let depth = 0;
    let depthBase = 0;
    let moveSum = 0;
    let moveN = 0;
    let worstRatio = -Infinity;
    let spread = NaN;
    let spreadBase = NaN;
    const live: SymbolState[] = [];
    const collapsed = new Set<string>();
    for (const s of members) {
      liq += s.liqWin[side];
      if (Number.isFinite(s.priorRate[side])) {
        prior += s.priorRate[side];
        priorKnown = true;
      }
      if (Number.isNaN(s.spread)) continue;
      live.push(s);
      if (s.collapsed[side]) collapsed.add(s.venue);
      const base = s.depthBase[side];
      if (base.n > 0 && s.warm(this.cfg)) {
        depth += s.depth2[side];
        depthBase += base.value;
      }
      const m = this.priceMove(s, side, sec);
      if (Number.isFinite(m)) {
        moveSum += m;
        moveN++;
      }
      const sb = s.spreadBase.value;
      if (s.spreadBase.n > 0 && sb > 0 && s.spread / sb > worstRatio) {
        worstRatio = s.spread / sb;
        spread = s.spread;
        spreadBase = sb;
      }
    }
    const haveDepth = depthBase > 0;
    return {
      live,
      input: {
        ts: T,
        liqNotional: liq,
        liqPriorRate: priorKnown ? prior : NaN,
        liqPercentile: NaN,
        depth: haveDepth ? depth : NaN,
        depthBaseline: haveDepth ? depthBase : NaN,
        spreadBps: spread,
        spreadBaselineBps: spreadBase,
        priceMovePct: moveN > 0 ? moveSum / moveN : NaN,
        collapsedVenues: collapsed.size,
        warm: haveDepth && a.samples >= this.cfg.warmupSec,
      },
    };
  }

  private lowerBoundVenues(members: SymbolState[], side: number, sec: number): string[] {
    const v = new Set<string>();
    for (const s of members) if (s.lowerBoundSec[side] >= sec - this.cfg.windowSec) v.add(s.venue);
    return [...v].sort();
  }

  private emitCascade(
    tr: Transition,
    tracker: CascadeTracker,
    verdict: CascadeVerdict,
    input: CascadeInput,
    side: number,
    scope: 'symbol' | 'asset',
    venue: string,
    symbol: string,
    asset: string,
    key: string,
    venues: string[],
    lowerBoundVenues: string[],
    depthTruncated: boolean,
  ): void {
    const cfg = this.cfg;
    const sideName = SIDES[side];
    const evidence: AlertEvidence = {
      liquidationNotional: finite(input.liqNotional),
      liquidationRate: finite(input.liqNotional / cfg.windowSec),
      liquidationBaselineRate: finite(input.liqPriorRate),
      depth2Pct: finite(input.depth),
      depth2PctBaseline: finite(input.depthBaseline),
      spreadBps: finite(input.spreadBps),
      spreadBaselineBps: finite(input.spreadBaselineBps),
      priceMovePct: finite(input.priceMovePct),
      venues,
      lowerBoundVenues,
      depthTruncated,
    };
    const where = scope === 'asset' ? `${asset} across ${venues.join(', ') || 'no live venue'}` : `${symbol} on ${venue}`;
    const who = side === 0 ? 'long' : 'short';
    const lb = lowerBoundVenues.length > 0 ? ' (≥, sampled feeds)' : '';
    const accel = Number.isFinite(input.liqPriorRate) && input.liqPriorRate > 0 ? `${(input.liqNotional / cfg.windowSec / input.liqPriorRate).toFixed(1)}× the prior rate` : 'no prior liquidations';
    const depthPart = Number.isFinite(input.depthBaseline) && input.depthBaseline > 0
      ? `2% ${sideName} depth ${money(input.depth)} vs baseline ${money(input.depthBaseline)} (${(input.depth / input.depthBaseline).toFixed(2)}×)${depthTruncated ? ' (truncated book)' : ''}`
      : `2% ${sideName} depth ${money(input.depth)}`;
    const explanation =
      tr === 'resolved'
        ? `${where}: ${who} liquidation cascade over after ${((input.ts - tracker.startTs) / 1000).toFixed(0)} s; ${money(input.liqNotional)} in the last ${cfg.windowSec} s`
        : `${where}: ${tracker.severity} — ${money(input.liqNotional)}${lb} of ${who} liquidations in ${cfg.windowSec} s (${accel}); ${depthPart}; spread ${finite(input.spreadBps).toFixed(1)} bps vs ${finite(input.spreadBaselineBps).toFixed(1)}; price ${side === 0 ? '−' : '+'}${finite(input.priceMovePct).toFixed(2)}% [${verdict.conditions.join(', ') || 'calming'}]`;
    const alert: Alert = {
      type: 'alert',
      id: cascadeAlertId(key, sideName, tracker.startTs),
      kind: 'cascade',
      scope,
      venue,
      symbol,
      asset,
      side: sideName,
      stage: tracker.stage,
      severity: tracker.severity as AlertSeverity,
      state: tr,
      startTs: tracker.startTs,
      ts: input.ts,
      endTs: tr === 'resolved' ? input.ts : null,
      seq: 0,
      evidence,
      explanation,
    };
    this.emitAlert(key, alert);
  }

  // ───────────────────────────── views ─────────────────────────────

  private flows(members: SymbolState[], sec: number): LiquidationFlowWindow[] {
    return FLOW_WINDOWS_SEC.map((w) => {
      const f: LiquidationFlowWindow = { windowSec: w, longNotional: 0, shortNotional: 0, longCount: 0, shortCount: 0, longLargest: 0, shortLargest: 0 };
      for (const s of members) {
        const l = s.liq[0].stats(sec - w, sec);
        const sh = s.liq[1].stats(sec - w, sec);
        f.longNotional += l.notional;
        f.longCount += l.count;
        f.longLargest = Math.max(f.longLargest, l.largest);
        f.shortNotional += sh.notional;
        f.shortCount += sh.count;
        f.shortLargest = Math.max(f.shortLargest, sh.largest);
      }
      return f;
    });
  }

  /** Windows end at the current event-time second (inclusive of the second in progress). */
  private nowSec(): number {
    return Number.isFinite(this.clock) ? Math.floor(this.clock / 1000) + 1 : 0;
  }

  symbolStats(venue: string, symbol: string): SymbolStats | undefined {
    const s = this.symbols.get(`${venue}:${symbol}`);
    if (!s) return undefined;
    const book = s.book;
    const depth = book && isTwoSided(book) ? computeDepthMetrics(book, s.lastBookTs, s.depthSeq) : null;
    const sec = this.nowSec();
    const ratio = (x: number | undefined, b: WarmEwma) => (x !== undefined && b.n > 0 && b.value > 0 ? orNull(x / b.value) : null);
    const d2 = depth?.bands[BAND_2PCT];
    const baselines: Baselines = {
      samples: s.samples,
      warm: s.warm(this.cfg),
      depth2PctBidQuote: s.depthBase[0].n > 0 ? s.depthBase[0].value : null,
      depth2PctAskQuote: s.depthBase[1].n > 0 ? s.depthBase[1].value : null,
      spreadBps: s.spreadBase.n > 0 ? s.spreadBase.value : null,
      depth2PctBidRatio: ratio(d2?.bidQuote, s.depthBase[0]),
      depth2PctAskRatio: ratio(d2?.askQuote, s.depthBase[1]),
      spreadRatio: ratio(depth?.spreadBps, s.spreadBase),
      liqRateBid: orNull(s.priorRate[0]),
      liqRateAsk: orNull(s.priorRate[1]),
    };
    return {
      venue: s.venue,
      symbol: s.symbol,
      asset: s.asset,
      depth,
      liquidations: this.flows([s], sec),
      derivatives: s.derivs,
      baselines,
      feedHealthy: s.feedHealthy,
    };
  }

  assetStats(asset: string): AssetStats | undefined {
    const a = this.assets.get(asset);
    if (!a) return undefined;
    return { asset, ts: a.lastTs, ...this.assetView(a.symbols.filter((s) => s.usdLike), this.nowSec()) };
  }

  /** Cross-venue sums over the live (two-sided, feed-healthy) books; flows over every member, windows ending at `sec`. */
  private assetView(members: SymbolState[], sec: number): Omit<AssetStats, 'asset' | 'ts'> {
    const live = members.filter((s) => s.book && isTwoSided(s.book) && s.feedHealthy);
    let bid = 0;
    let ask = 0;
    let bidBase = 0;
    let askBase = 0;
    let nb = 0;
    const capacity: BlockCapacity[] = [];
    for (const s of live) {
      bid += s.book!.bandQuote('bid', BAND_2PCT);
      ask += s.book!.bandQuote('ask', BAND_2PCT);
      if (s.depthBase[0].n > 0) {
        bidBase += s.depthBase[0].value;
        askBase += s.depthBase[1].value;
        nb++;
      }
      blockCapacity(s.book!).forEach((c, i) => {
        if (capacity[i]) {
          capacity[i].buyQuote += c.buyQuote;
          capacity[i].sellQuote += c.sellQuote;
        } else capacity[i] = c;
      });
    }
    if (capacity.length === 0) for (const bps of CAPACITY_BPS) capacity.push({ bps, buyQuote: 0, sellQuote: 0 });
    const lb = new Set([...this.lowerBoundVenues(members, 0, sec), ...this.lowerBoundVenues(members, 1, sec)]);
    return {
      venues: [...new Set(live.map((s) => s.venue))].sort(),
      symbols: live.map((s) => s.key).sort(),
      depth2PctBidQuote: bid,
      depth2PctAskQuote: ask,
      depth2PctBidBaseline: nb > 0 ? bidBase : null,
      depth2PctAskBaseline: nb > 0 ? askBase : null,
      depthTruncated: live.some((s) => s.book!.bandTruncated('bid', BAND_2PCT) || s.book!.bandTruncated('ask', BAND_2PCT)),
      liquidations: this.flows(members, sec),
      lowerBoundVenues: [...lb].sort(),
      capacity,
    };
  }

  assetNames(): string[] {
    return [...this.assets.keys()];
  }
}

export function emptyEvidence(venues: string[]): AlertEvidence {
  return {
    liquidationNotional: 0,
    liquidationRate: 0,
    liquidationBaselineRate: 0,
    depth2Pct: 0,
    depth2PctBaseline: 0,
    spreadBps: 0,
    spreadBaselineBps: 0,
    priceMovePct: 0,
    venues,
    lowerBoundVenues: [],
    depthTruncated: false,
  };
}
