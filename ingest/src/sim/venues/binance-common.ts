import type { VenueId } from '@depthwatch/schemas';
import { FrontEnd, type RestReply, type SimClient } from '../front-end.ts';
import type { Instrument, InstrumentStep, Market } from '../market.ts';
import { Prng } from '../prng.ts';

/**
 * Binance-style protocol front end (USD-M futures and spot share it): REST depth snapshots with
 * lastUpdateId, combined streams `{"stream":…,"data":…}` (raw-stream sockets `/ws`, `/public/ws/<n>`,
 * `/market/ws/<n>` subscribed by SUBSCRIBE, as ccxt pro opens them, get the bare event), depthUpdate with U/u(/pu) ids where one
 * event can merge several steps, trades, forceOrder sampled to one per symbol per second, and
 * markPrice@1s. Venue faults: sequence gap, snapshot/diff race, failing snapshots.
 */

export interface BinanceSimOptions {
  venue: VenueId;
  futures: boolean;
  market: Market;
  seed?: number;
  /** Probability a depth event is held and merged into the next one. */
  mergeProbability?: number;
  /** Server ping cadence (spot pings every 20 s); 0 = off. */
  serverPingMs?: number;
}

interface SymState {
  inst: Instrument;
  lower: string;
  /** Update id of the market book's current state (what a snapshot reports). */
  lastId: number;
  /** u of the last event in the chain (sent, held or lost): the next event's pu. */
  chainU: number;
  held: { U: number; u: number; pu: number; ts: number; bids: Map<number, number>; asks: Map<number, number> } | null;
  gapArmed: boolean;
  race: { lastUpdateId: number; bids: [string, string][]; asks: [string, string][]; ts: number } | null;
  liqWindow: { start: number; latest: { body: object } } | null;
  lastMarkAt: number;
}

export interface BinanceSimCounters {
  trades: Record<string, number>;
  liquidations: Record<string, number>;
  depthEvents: Record<string, number>;
}

/** Binance raw-stream endpoints (`/ws`, `/public/ws/0`) send bare events; combined ones (`/stream`) wrap them. */
function isRawPath(path: string): boolean {
  return /(^|\/)ws(\/|$)/.test(path);
}

export class BinanceSimVenue {
  readonly fe: FrontEnd;
  readonly syms = new Map<string, SymState>();
  readonly counters: BinanceSimCounters = { trades: {}, liquidations: {}, depthEvents: {} };
  private readonly rng: Prng;
  private failSnapshots = 0;
  private failOpenInterest: { n: number; how: 'http' | 'malformed' } = { n: 0, how: 'http' };
  /** Open-interest answers served per symbol (USD-M). */
  readonly openInterestServed: Record<string, number> = {};
  private pingTimer: NodeJS.Timeout | null = null;
  private readonly onStep = (steps: InstrumentStep[]) => this.step(steps);
  private readonly onPause = () => this.flush(Date.now(), true);

  constructor(private readonly o: BinanceSimOptions) {
    this.rng = Prng.derive(o.seed ?? 1, `fe:${o.venue}`);
    for (const inst of o.market.instruments.values()) {
      if (inst.spec.venue !== o.venue) continue;
      const start = 1_000_000_000 + this.rng.int(1_000_000);
      this.syms.set(inst.spec.venueSymbol, {
        inst,
        lower: inst.spec.venueSymbol.toLowerCase(),
        lastId: start,
        chainU: start,
        held: null,
        gapArmed: false,
        race: null,
        liqWindow: null,
        lastMarkAt: 0,
      });
      this.counters.trades[inst.spec.symbol] = 0;
      this.counters.liquidations[inst.spec.symbol] = 0;
      this.counters.depthEvents[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd({
      rest: (path, q) => this.rest(path, q),
      accept: (path, q) => this.accept(path, q),
      onClientMessage: (c, text) => this.clientMessage(c, text),
    });
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.o.market.on('step', this.onStep);
    this.o.market.on('pause', this.onPause);
    if (this.o.serverPingMs) {
      this.pingTimer = setInterval(() => this.fe.ping(String(Date.now())), this.o.serverPingMs);
      this.pingTimer.unref();
    }
  }

  async close(): Promise<void> {
    this.o.market.off('step', this.onStep);
    this.o.market.off('pause', this.onPause);
    if (this.pingTimer) clearInterval(this.pingTimer);
    await this.fe.close();
  }

  // ---- faults

  faults() {
    const pick = (symbol?: string) => [...this.syms.values()].filter((s) => !symbol || s.inst.spec.symbol === symbol || s.inst.spec.venueSymbol === symbol);
    return {
      disconnectAll: () => this.fe.disconnectAll(),
      malformedFrame: (stream = '@depth') => this.fe.malformedFrame(stream),
      truncatedFrame: (stream = '@depth') => this.fe.truncatedFrame(stream),
      stall: (ms: number) => this.fe.stall(ms),
      ping: (payload: string) => this.fe.ping(payload),
      pongs: () => [...this.fe.clients].flatMap((c) => c.pongs),
      /** The next depth event of the symbol(s) is lost: ids skip past it. */
      sequenceGap: (symbol?: string) => pick(symbol).forEach((s) => (s.gapArmed = true)),
      /** The next snapshot request per symbol is answered with the book as of now (older than the events that follow). */
      snapshotRace: (symbol?: string) =>
        pick(symbol).forEach((s) => {
          s.race = { lastUpdateId: s.lastId, bids: this.levels(s.inst, 'bid', 1000), asks: this.levels(s.inst, 'ask', 1000), ts: Date.now() };
        }),
      /** The next `n` snapshot requests fail with HTTP 503. */
      failSnapshots: (n: number) => (this.failSnapshots = n),
      /** Clients subscribed to `stream` (e.g. `btcusdt@aggTrade`): tests wait for a subscription before trading starts. */
      subscribers: (stream: string) => [...this.fe.clients].filter((c) => c.streams.has(stream)).length,
      /** The next `n` open-interest requests fail: HTTP 503 (`http`) or 200 with a body that is not an answer (`malformed`). */
      failOpenInterest: (n: number, how: 'http' | 'malformed' = 'http') => (this.failOpenInterest = { n, how }),
    };
  }

  // ---- wire

  private levels(inst: Instrument, side: 'bid' | 'ask', limit: number): [string, string][] {
    const m = side === 'bid' ? inst.bids : inst.asks;
    const keys = [...m.keys()].sort(side === 'bid' ? (a, b) => b - a : (a, b) => a - b).slice(0, limit);
    return keys.map((t) => [inst.price(t), inst.qty(m.get(t)!)]);
  }

  private changes(inst: Instrument, m: Map<number, number>): [string, string][] {
    return [...m].map(([t, lots]) => [inst.price(t), inst.qty(lots)]);
  }

  private send(s: SymState, stream: string, data: object): boolean {
    const name = `${s.lower}@${stream}`;
    if (!this.fe.hasSubscribers(name)) return false;
    // Combined-stream connections (/stream) get `{stream, data}`; raw ones (/ws, ccxt's choice) the bare event.
    let wrapped: string | null = null;
    let raw: string | null = null;
    for (const c of this.fe.clients) {
      if (!c.streams.has(name)) continue;
      const text = isRawPath(c.path) ? (raw ??= JSON.stringify(data)) : (wrapped ??= JSON.stringify({ stream: name, data }));
      this.fe.sendTo(c, text, name);
    }
    return true;
  }

  private sendDepth(s: SymState, ev: NonNullable<SymState['held']>): void {
    const data: Record<string, unknown> = { e: 'depthUpdate', E: ev.ts, T: ev.ts - 1, s: s.inst.spec.venueSymbol, U: ev.U, u: ev.u };
    if (this.o.futures) data.pu = ev.pu;
    else delete data.T;
    data.b = this.changes(s.inst, ev.bids);
    data.a = this.changes(s.inst, ev.asks);
    if (this.send(s, 'depth@100ms', data)) this.counters.depthEvents[s.inst.spec.symbol]++;
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const s = this.syms.get(st.inst.spec.venueSymbol);
      if (!s || st.inst !== s.inst) continue;
      const ts = st.ts;
      const n = st.bids.size + st.asks.size;
      if (n > 0) {
        // Binance ids count engine updates, not levels: u - U is usually larger than the level count.
        const U = s.lastId + 1;
        const u = s.lastId + n + this.rng.int(4);
        s.lastId = u;
        if (s.gapArmed) {
          s.gapArmed = false;
          s.chainU = u; // lost on the wire: the next event's pu points at it
          if (s.held) {
            s.held = null; // the held part is lost with it
          }
        } else if (s.held) {
          for (const [t, l] of st.bids) s.held.bids.set(t, l);
          for (const [t, l] of st.asks) s.held.asks.set(t, l);
          s.held.u = u;
          s.held.ts = ts;
          this.sendDepth(s, s.held);
          s.held = null;
          s.chainU = u;
        } else {
          const ev = { U, u, pu: s.chainU, ts, bids: new Map(st.bids), asks: new Map(st.asks) };
          s.chainU = u;
          if (this.rng.next() < (this.o.mergeProbability ?? 0.15)) s.held = ev;
          else this.sendDepth(s, ev);
        }
      }
      for (const tr of st.trades) {
        const data = this.o.futures
          ? { e: 'aggTrade', E: ts, s: s.inst.spec.venueSymbol, a: tr.id, p: s.inst.price(tr.priceTicks), q: s.inst.qty(tr.lots), nq: s.inst.qty(tr.lots), f: tr.id, l: tr.id, T: ts, m: tr.side === 'sell' }
          : { e: 'trade', E: ts, s: s.inst.spec.venueSymbol, t: tr.id, p: s.inst.price(tr.priceTicks), q: s.inst.qty(tr.lots), T: ts, m: tr.side === 'sell', M: true };
        if (this.send(s, this.o.futures ? 'aggTrade' : 'trade', data)) this.counters.trades[s.inst.spec.symbol]++;
      }
      if (!this.o.futures) continue;
      for (const l of st.liquidations) {
        // forceOrder: only the latest liquidation of each 1000 ms window per symbol is pushed.
        if (s.liqWindow && ts - s.liqWindow.start >= 1000) this.flushLiq(s);
        const q = s.inst.qty(l.lots);
        const p = s.inst.price(l.priceTicks);
        const body = { e: 'forceOrder', E: ts, o: { s: s.inst.spec.venueSymbol, S: l.position === 'long' ? 'SELL' : 'BUY', o: 'LIMIT', f: 'IOC', q, p, ap: p, X: 'FILLED', l: q, z: q, T: ts } };
        if (!s.liqWindow) s.liqWindow = { start: ts, latest: { body } };
        else s.liqWindow.latest = { body };
      }
      if (s.liqWindow && ts - s.liqWindow.start >= 1000) this.flushLiq(s);
      if (st.ticker && ts - s.lastMarkAt >= 1000) {
        s.lastMarkAt = ts;
        const t = st.ticker;
        const dp = s.inst.priceDecimals + 2;
        this.send(s, 'markPrice@1s', { e: 'markPriceUpdate', E: ts, s: s.inst.spec.venueSymbol, p: t.mark.toFixed(dp), i: t.index.toFixed(dp), P: t.index.toFixed(dp), r: t.fundingRate.toFixed(8), T: t.nextFundingTime });
      }
    }
  }

  private flushLiq(s: SymState): void {
    const w = s.liqWindow;
    s.liqWindow = null;
    if (w && this.send(s, 'forceOrder', w.latest.body)) this.counters.liquidations[s.inst.spec.symbol]++;
  }

  /** Paused market: send what is held so the wire is quiescent and books can be compared. */
  private flush(_now: number, _pause: boolean): void {
    for (const s of this.syms.values()) {
      if (s.held) {
        this.sendDepth(s, s.held);
        s.held = null;
      }
      if (s.liqWindow) this.flushLiq(s);
    }
  }

  private rest(path: string, q: URLSearchParams): RestReply | null {
    const depthPath = this.o.futures ? '/fapi/v1/depth' : '/api/v3/depth';
    if (path === depthPath) {
      const s = this.syms.get(q.get('symbol') ?? '');
      if (!s) return { status: 400, body: '{"code":-1121,"msg":"Invalid symbol."}' };
      if (this.failSnapshots > 0) {
        this.failSnapshots--;
        return { status: 503, body: '{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}' };
      }
      const limit = Math.min(Number(q.get('limit') ?? 100), this.o.futures ? 1000 : 5000);
      const now = Date.now();
      if (s.race) {
        const r = s.race;
        s.race = null;
        return { status: 200, body: JSON.stringify(this.o.futures ? { lastUpdateId: r.lastUpdateId, E: r.ts, T: r.ts, bids: r.bids, asks: r.asks } : { lastUpdateId: r.lastUpdateId, bids: r.bids, asks: r.asks }) };
      }
      const bids = this.levels(s.inst, 'bid', limit);
      const asks = this.levels(s.inst, 'ask', limit);
      const body = this.o.futures ? { lastUpdateId: s.lastId, E: now, T: now, bids, asks } : { lastUpdateId: s.lastId, bids, asks };
      return { status: 200, body: JSON.stringify(body) };
    }
    if (path === (this.o.futures ? '/fapi/v1/exchangeInfo' : '/api/v3/exchangeInfo')) return { status: 200, body: JSON.stringify(this.exchangeInfo()) };
    if (this.o.futures && path === '/fapi/v1/openInterest') {
      const s = this.syms.get(q.get('symbol') ?? '');
      if (!s) return { status: 400, body: '{"code":-1121,"msg":"Invalid symbol."}' };
      if (this.failOpenInterest.n > 0) {
        this.failOpenInterest.n--;
        if (this.failOpenInterest.how === 'http') return { status: 503, body: '{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}' };
        return { status: 200, body: JSON.stringify({ openInterest: 'NaN', symbol: s.inst.spec.venueSymbol, time: Date.now() }) };
      }
      this.openInterestServed[s.inst.spec.symbol] = (this.openInterestServed[s.inst.spec.symbol] ?? 0) + 1;
      // The market's open interest (the same number the other venues' tickers carry), in contracts = base.
      return { status: 200, body: JSON.stringify({ openInterest: s.inst.qty(s.inst.openInterestLots), symbol: s.inst.spec.venueSymbol, time: Date.now() }) };
    }
    if (path === (this.o.futures ? '/fapi/v1/ping' : '/api/v3/ping')) return { status: 200, body: '{}' };
    if (path === (this.o.futures ? '/fapi/v1/time' : '/api/v3/time')) return { status: 200, body: JSON.stringify({ serverTime: Date.now() }) };
    return null;
  }

  private tierOf(stream: string): 'public' | 'market' {
    return /@(depth|bookTicker|trade$)/.test(stream) ? 'public' : 'market';
  }

  private accept(path: string, q: URLSearchParams): string[] | null {
    const requested = (q.get('streams') ?? '').split('/').filter(Boolean);
    if (!this.o.futures) return path === '/stream' || path === '/ws' ? requested : path.startsWith('/ws/') ? path.slice(4).split('/') : null;
    // USD-M routing: /public gets high-frequency streams, /market the rest; an un-routed
    // connection silently gets only the public tier (markPrice there never arrives).
    if (path === '/public/stream') return requested.filter((s) => this.tierOf(s) === 'public');
    if (path === '/market/stream') return requested.filter((s) => this.tierOf(s) === 'market');
    if (path === '/stream') return requested.filter((s) => this.tierOf(s) === 'public');
    // Raw-stream sockets subscribed by SUBSCRIBE messages, as ccxt opens them: /public/ws/<n>, /market/ws/<n>.
    if (/^\/(public|market)\/ws(\/[0-9A-Za-z]+)?$/.test(path)) return [];
    return null;
  }

  private clientMessage(c: SimClient, text: string): string[] {
    let msg: { method?: string; params?: string[]; id?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return [JSON.stringify({ error: { code: 3, msg: 'Invalid JSON' } })];
    }
    const tierOk = (s: string) => !this.o.futures || c.path === '/stream' ? true : c.path.startsWith('/' + this.tierOf(s));
    if (msg.method === 'SUBSCRIBE') for (const s of msg.params ?? []) if (tierOk(s)) c.streams.add(s);
    if (msg.method === 'UNSUBSCRIBE') for (const s of msg.params ?? []) c.streams.delete(s);
    if (msg.method === 'LIST_SUBSCRIPTIONS') return [JSON.stringify({ result: [...c.streams], id: msg.id ?? null })];
    return [JSON.stringify({ result: null, id: msg.id ?? null })];
  }

  /** Enough of exchangeInfo for ccxt's loadMarkets (per-symbol precision, filters, contract type). */
  private exchangeInfo(): object {
    const symbols = [...this.syms.values()].map(({ inst }) => {
      const base = inst.asset;
      const quote = inst.spec.symbol.split('/')[1].split(':')[0];
      const filters = [
        { filterType: 'PRICE_FILTER', minPrice: inst.price(1), maxPrice: '10000000', tickSize: inst.spec.tick.toFixed(inst.priceDecimals) },
        { filterType: 'LOT_SIZE', minQty: inst.qty(1), maxQty: '100000', stepSize: inst.spec.lot.toFixed(inst.lotDecimals) },
        { filterType: 'MARKET_LOT_SIZE', minQty: inst.qty(1), maxQty: '100000', stepSize: inst.spec.lot.toFixed(inst.lotDecimals) },
        { filterType: 'MIN_NOTIONAL', notional: '5', minNotional: '5' },
      ];
      return this.o.futures
        ? {
            symbol: inst.spec.venueSymbol, pair: inst.spec.venueSymbol, contractType: 'PERPETUAL', deliveryDate: 4133404800000, onboardDate: 1569398400000,
            status: 'TRADING', baseAsset: base, quoteAsset: quote, marginAsset: quote, pricePrecision: inst.priceDecimals, quantityPrecision: inst.lotDecimals,
            baseAssetPrecision: 8, quotePrecision: 8, underlyingType: 'COIN', underlyingSubType: [], settlePlan: 0, triggerProtect: '0.0500', filters,
            orderTypes: ['LIMIT', 'MARKET'], timeInForce: ['GTC', 'IOC', 'FOK', 'GTX'],
          }
        : {
            symbol: inst.spec.venueSymbol, status: 'TRADING', baseAsset: base, baseAssetPrecision: 8, quoteAsset: quote, quotePrecision: 8, quoteAssetPrecision: 8,
            orderTypes: ['LIMIT', 'MARKET'], icebergAllowed: true, ocoAllowed: true, isSpotTradingAllowed: true, isMarginTradingAllowed: false, filters, permissions: ['SPOT'],
          };
    });
    return { timezone: 'UTC', serverTime: Date.now(), rateLimits: [], exchangeFilters: [], symbols };
  }
}
