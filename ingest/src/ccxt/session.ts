import { type Bus, type CcxtVenueId, type Level } from '@depthwatch/schemas';
import { logger, type Logger } from '@depthwatch/ops';
import { CHANNELS, type Channel, type SyncRules, type VenueMessage } from '../sync/adapter.ts';
import { Backoff, RollingMedian } from '../sync/backoff.ts';
import type { ResyncReason } from '../sync/book-sync.ts';
import { ingestMetrics as M } from '../sync/metrics.ts';
import { SymbolFeed } from '../sync/symbol-feed.ts';
import { assertWellFormed } from '../sync/well-formed.ts';
import { registerMarkets, type MarketInfo } from '../metadata/index.ts';
import type { VenueConfig } from '../sync/venue-session.ts';
import { loadCcxt, type CcxtLiquidation, type CcxtModule, type CcxtOrderBook, type CcxtProExchange, type CcxtTicker, type CcxtTrade } from './load.ts';
import { fromCcxtMarket, snapshotMarkets, toCcxtMarket } from './markets.ts';
import { bookFromCcxt, liquidationConvention, liquidationFromCcxt, tickerFromCcxt, tradeFromCcxt, type LiquidationSideConvention } from './normalize.ts';
import { ccxtMetrics } from './metrics.ts';
import { resolveCcxtVenue } from './venue-ids.ts';

/**
 * The generic fallback collector: one ccxt pro exchange per `ccxt:<id>` venue, and per configured
 * symbol a watchOrderBook loop (plus watchTrades / watchTicker where ccxt offers them) feeding the
 * same SymbolFeed the native sessions use. ccxt owns the sockets, the exchange's sync recipe and its
 * gap checks; we get its whole current book after every update and publish the difference to the
 * previous one (SyncRules `full`, as for Hyperliquid), so consumers see one model for every venue:
 * status, then a snapshot, then deltas, periodic snapshots, trades held until the book is synced.
 */

export interface CcxtFallbackOptions {
  /** Allow a ccxt id one of our native venues already covers (comparisons, tests). */
  force?: boolean;
  /** Deep-merged into the ccxt exchange's `urls` (tests point ccxt at a simulated venue). */
  urls?: Record<string, unknown>;
  /** Deep-merged into the ccxt exchange's `options` (e.g. Binance `{ watchTradesForSymbols: { name: 'aggTrade' } }`). */
  options?: Record<string, unknown>;
  /**
   * Where market metadata comes from. `auto` (default): the shipped snapshot when it lists every
   * configured symbol (offline, reproducible), otherwise the exchange (ccxt loadMarkets).
   */
  markets?: 'auto' | 'snapshot' | 'exchange';
  /** ccxt's client-side rate limiter (default on: it keeps REST snapshots inside the exchange's weights). Off only for local endpoints such as the simulator. */
  rateLimit?: boolean;
  /** Levels per side asked of watchOrderBook (default: ccxt's default for the exchange). Published as the book's depthLimit. */
  depth?: number;
}

export type CcxtVenueConfig = Omit<VenueConfig, 'venue'> & { venue: CcxtVenueId; ccxt?: CcxtFallbackOptions };

/** ccxt pro watch methods per channel (liquidations only where the side convention is known: liquidationConvention). */
const WATCH: Partial<Record<Channel, string>> = { book: 'watchOrderBook', trade: 'watchTrades', liquidation: 'watchLiquidations', ticker: 'watchTicker' };

/** A quiet book is stale after 30 s; trades and tickers are bursty or optional on many exchanges. */
const STALE_AFTER_MS: Readonly<Record<Channel, number>> = { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: Infinity };

interface Watched {
  symbol: string;
  feed: SymbolFeed;
  market: MarketInfo;
}

export class CcxtSession {
  readonly feeds = new Map<string, SymbolFeed>();
  readonly counters = { messages: 0, parseErrors: 0, errors: 0, reconnects: 0 };
  /** Where the markets came from once loaded: 'snapshot' or 'exchange'. */
  marketsSource: 'snapshot' | 'exchange' | null = null;
  private readonly exchange: CcxtProExchange;
  private readonly channels: Channel[];
  private readonly log: Logger;
  private readonly offset = new RollingMedian(256);
  private readonly waits = new Set<() => void>();
  private readonly loops: Promise<void>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastBadLog = 0;
  private readonly reconnect: { baseMs: number; maxMs: number };
  private readonly liquidationSide: LiquidationSideConvention | null;

  /** Checks the venue against ccxt (exists; not a native venue unless forced) and builds the session. */
  static async create(config: CcxtVenueConfig, bus: Bus, now: () => number = Date.now): Promise<CcxtSession> {
    if (config.restUrl || config.wsUrl) throw new Error(`${config.venue}: ccxt venues take their endpoints from ccxt; override them with ccxt.urls, not restUrl/wsUrl`);
    if (!config.symbols || config.symbols.length === 0) throw new Error(`${config.venue}: a ccxt venue needs its symbols listed (there are no defaults)`);
    const exchangeId = await resolveCcxtVenue(config.venue, { force: config.ccxt?.force });
    return new CcxtSession(config, bus, await loadCcxt(), exchangeId, now);
  }

  private constructor(
    private readonly config: CcxtVenueConfig,
    bus: Bus,
    private readonly ccxt: CcxtModule,
    readonly exchangeId: string,
    private readonly now: () => number,
  ) {
    this.log = logger('ingest', { venue: config.venue, ccxt: exchangeId });
    this.exchange = new ccxt.pro[exchangeId]({ enableRateLimit: config.ccxt?.rateLimit !== false });
    const o = config.ccxt ?? {};
    if (o.urls) this.exchange.urls = this.exchange.deepExtend(this.exchange.urls, o.urls);
    if (o.options) this.exchange.options = this.exchange.deepExtend(this.exchange.options, o.options);
    if (!this.exchange.has.watchOrderBook) throw new Error(`${config.venue}: ccxt ${exchangeId} has no watchOrderBook; the fallback needs a streamed book`);
    const wanted = new Set<Channel>(config.channels ?? CHANNELS);
    this.liquidationSide = liquidationConvention(exchangeId);
    this.channels = CHANNELS.filter(
      (c) => wanted.has(c) && WATCH[c] !== undefined && this.exchange.has[WATCH[c]!] && (c !== 'liquidation' || this.liquidationSide !== null),
    );
    if (!this.channels.includes('book')) throw new Error(`${config.venue}: the ccxt fallback always streams the book (channels ${[...wanted].join(', ')})`);
    this.reconnect = config.reconnect ?? { baseMs: 500, maxMs: 30_000 };
    const rules: SyncRules = { bootstrap: 'full', next: () => 'apply', depthLimit: o.depth ?? 0 };
    const staleAfterMs = { ...STALE_AFTER_MS, ...config.staleAfterMs };
    for (const symbol of config.symbols!) {
      this.feeds.set(
        symbol,
        new SymbolFeed({
          venue: config.venue,
          symbol,
          bus,
          rules,
          channels: new Set(this.channels),
          staleAfterMs,
          snapshotIntervalMs: config.snapshotIntervalMs ?? 60_000,
          enforceChecksum: false,
          now,
          // ccxt resubscribes (and refetches its snapshot) by itself when the next watch starts.
          requestSnapshot: () => {},
          lagSample: (ms) => this.offset.push(ms),
        }),
      );
    }
  }

  get venue(): CcxtVenueId {
    return this.config.venue;
  }

  /** Channels streamed per symbol (those asked for that ccxt offers for this exchange). */
  get streamedChannels(): readonly Channel[] {
    return this.channels;
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.config.tickMs ?? 1000);
    this.timer.unref();
    this.loops.push(this.run());
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const wake of [...this.waits]) wake();
    // Closing ccxt's sockets rejects the pending watches, which ends the loops.
    await this.exchange.close().catch(() => {});
    await Promise.race([Promise.allSettled(this.loops), this.wait(2000, true)]);
  }

  book(symbol: string): { bids: Level[]; asks: Level[] } | null {
    return this.feeds.get(symbol)?.book() ?? null;
  }

  // ---- startup

  private async run(): Promise<void> {
    // ccxt refuses plain ws:// URLs (overridden endpoints: local relays, the simulator) until its HTTP agent is loaded.
    await this.exchange.loadHttpProxyAgent();
    if (!(await this.loadMarkets())) return;
    for (const [symbol, feed] of this.feeds) {
      const m = this.exchange.markets?.[symbol];
      if (!m) {
        this.log.error({ symbol, source: this.marketsSource }, 'symbol not listed by ccxt');
        feed.streamDown(this.channels, `${symbol} is not listed by ccxt ${this.exchangeId} (markets from ${this.marketsSource})`);
        continue;
      }
      const market = fromCcxtMarket(this.venue, m, this.exchange.precisionMode, this.ccxt);
      registerMarkets([market]);
      const w: Watched = { symbol, feed, market };
      feed.streamUp(this.channels, false);
      for (const channel of this.channels) this.loops.push(this.watchLoop(w, channel));
    }
  }

  /** Markets from the shipped snapshot or the exchange (retried with backoff: the exchange may be down). */
  private async loadMarkets(): Promise<boolean> {
    const mode = this.config.ccxt?.markets ?? 'auto';
    const shipped = snapshotMarkets(this.venue, this.exchangeId);
    const covered = [...this.feeds.keys()].every((s) => shipped.some((m) => m.symbol === s));
    if (mode === 'snapshot' || (mode === 'auto' && covered)) {
      this.exchange.setMarkets(shipped.map(toCcxtMarket));
      this.marketsSource = 'snapshot';
      return true;
    }
    const backoff = new Backoff(this.reconnect);
    while (!this.closed) {
      try {
        await this.exchange.loadMarkets();
        this.marketsSource = 'exchange';
        return true;
      } catch (err) {
        if (this.closed) return false;
        this.countError(err);
        this.log.warn({ err: (err as Error).message, attempt: backoff.attempts + 1 }, 'ccxt loadMarkets failed');
        for (const feed of this.feeds.values()) feed.streamDown(this.channels, `loading markets failed: ${describe(err)}`);
        await this.wait(backoff.next());
      }
    }
    return false;
  }

  // ---- streaming

  private async watchLoop(w: Watched, channel: Channel): Promise<void> {
    const backoff = new Backoff(this.reconnect);
    while (!this.closed) {
      let value: unknown;
      try {
        value = await this.watch(w.symbol, channel);
      } catch (err) {
        if (this.closed) return;
        await this.failed(w, channel, err, backoff);
        continue;
      }
      if (this.closed) return;
      backoff.reset();
      this.deliver(w, channel, value, this.now());
    }
  }

  private watch(symbol: string, channel: Channel): Promise<unknown> {
    if (channel === 'book') return this.exchange.watchOrderBook(symbol, this.config.ccxt?.depth);
    if (channel === 'trade') return this.exchange.watchTrades(symbol);
    if (channel === 'liquidation') return this.exchange.watchLiquidations(symbol);
    return this.exchange.watchTicker(symbol);
  }

  /** One watch result: normalized, checked like any venue's parse output, then into the feed. */
  private deliver(w: Watched, channel: Channel, value: unknown, recvTs: number): void {
    const { feed, market, symbol } = w;
    if (channel === 'book') {
      this.received('book', 1);
      this.accept(w, 'book', () => bookFromCcxt(value as CcxtOrderBook, symbol, market, recvTs), (snap) => feed.onSnapshot(snap, 'in-band', recvTs));
    } else if (channel === 'trade') {
      const trades = value as CcxtTrade[];
      this.received('trade', trades.length);
      // One bad trade is dropped and counted; the good ones around it are still published.
      for (const t of trades) this.accept(w, 'trade', () => tradeFromCcxt(t, symbol, market, recvTs), (msg) => feed.onTrade(msg, recvTs));
    } else if (channel === 'liquidation') {
      const liquidations = value as CcxtLiquidation[];
      this.received('liquidation', liquidations.length);
      for (const l of liquidations) {
        this.accept(w, 'liquidation', () => liquidationFromCcxt(l, symbol, market, this.liquidationSide!, recvTs), (msg) => feed.onLiquidation(msg, recvTs));
      }
    } else {
      this.received('ticker', 1);
      this.accept(w, 'ticker', () => tickerFromCcxt(value as CcxtTicker, symbol, recvTs), (msg) => feed.onTicker(msg, recvTs));
    }
  }

  /** Normalize one item, check it like a venue parse result, and hand it to the feed; a failure is counted as bad data. */
  private accept<T extends VenueMessage>(w: Watched, channel: Channel, normalize: () => T, apply: (msg: T) => void): void {
    try {
      const msg = normalize();
      assertWellFormed([msg]);
      apply(msg);
    } catch (err) {
      this.badData(w, channel, err);
    }
  }

  private received(channel: Channel, n: number): void {
    this.counters.messages += n;
    M.messages.inc({ venue: this.venue, channel }, n);
  }

  /**
   * A watch failed. InvalidNonce (ChecksumError included) is ccxt's own sync losing the book: it
   * dropped the subscription, so the book is resyncing until the next watch brings a fresh one. Any
   * other error (network: the socket is gone; exchange: refused) takes the stream down; after a
   * jittered backoff the watch is started again, which reconnects and resubscribes.
   */
  private async failed(w: Watched, channel: Channel, err: unknown, backoff: Backoff): Promise<void> {
    this.countError(err);
    const detail = describe(err);
    if (err instanceof this.ccxt.InvalidNonce) {
      const reason: ResyncReason = err instanceof this.ccxt.ChecksumError ? 'checksum' : 'gap';
      if (channel === 'book') w.feed.invalidate(reason, `ccxt: ${detail}`);
      await this.wait(backoff.next());
      return;
    }
    const network = err instanceof this.ccxt.NetworkError;
    // First failure of a streak, then every tenth: an exchange outage must not flood the log.
    if (backoff.attempts % 10 === 0) this.log.warn({ symbol: w.symbol, channel, err: detail, attempt: backoff.attempts + 1 }, network ? 'ccxt stream disconnected' : 'ccxt watch failed');
    w.feed.streamDown([channel], network ? `disconnected: ${detail}` : `ccxt error: ${detail}`);
    await this.wait(backoff.next());
    if (this.closed) return;
    this.counters.reconnects++;
    M.reconnects.inc({ venue: this.venue });
    w.feed.streamUp([channel], true);
  }

  private badData(w: Watched, channel: Channel, err: unknown): void {
    this.counters.parseErrors++;
    M.parseErrors.inc({ venue: this.venue, channel });
    const now = this.now();
    if (now - this.lastBadLog > 10_000) {
      this.lastBadLog = now;
      this.log.warn({ symbol: w.symbol, channel, err: describe(err) }, 'unusable data from ccxt');
    }
    // Never publish from a book we could not read: rebuild from ccxt's next one.
    if (channel === 'book') w.feed.invalidate('parse_error', describe(err));
  }

  private countError(err: unknown): void {
    this.counters.errors++;
    ccxtMetrics.errors.inc({ venue: this.venue, error: errorClass(err) });
  }

  private tick(): void {
    const now = this.now();
    for (const f of this.feeds.values()) f.tick(now);
    const off = this.offset.value;
    if (off !== null) M.clockOffset.set({ venue: this.venue }, off / 1000);
  }

  /** Timer that close() cuts short, so a backoff never delays shutdown. */
  private wait(ms: number, always = false): Promise<void> {
    if (this.closed && !always) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waits.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.waits.add(done);
    });
  }
}

function describe(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? 'Error'}: ${String(e?.message ?? err)}`.slice(0, 300);
}

/** ccxt error class names are a small fixed set (bounded label); anything else is 'other'. */
function errorClass(err: unknown): string {
  const name = (err as Error)?.constructor?.name ?? '';
  return /^[A-Z][A-Za-z]{2,40}$/.test(name) ? name : 'other';
}
