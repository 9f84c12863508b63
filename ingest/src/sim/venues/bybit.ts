import { FrontEnd, pickSymbols, wsOnlyHooks, type SimClient, type SimVenue } from '../front-end.ts';
import { DepthWindow, type TickLevels } from '../depth-window.ts';
import type { Instrument, InstrumentStep, Market, SimLiquidation } from '../market.ts';
import { Prng } from '../prng.ts';
import { BYBIT_BOOK_DEPTH } from '../../venues/bybit.ts';

/**
 * Bybit v5 linear front end on `/v5/public/linear`: `{"op":"subscribe","args":[topics]}` with acks,
 * `{"op":"ping"}` → pong, `orderbook.200` snapshot on subscribe then deltas with `u` +1 per message
 * (200-level window, levels pushed out of it are not deleted: clients truncate), `publicTrade`
 * batches, `allLiquidation` every liquidation in 500 ms batches, `tickers` snapshot then deltas of
 * changed fields only. Venue faults: `u` gap, mid-stream snapshot, service restart (`u=1`).
 */

const ROUTE = '/v5/public/linear';
type Fields = Record<string, string>;

interface SymState {
  inst: Instrument;
  vs: string;
  window: DepthWindow;
  u: number;
  gapArmed: boolean;
  liq: { start: number; rows: object[] } | null;
  ticker: Fields;
  lastPrice: string;
}

export class BybitSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, bookMessages: {} as Record<string, number> };
  private readonly syms = new Map<string, SymState>();
  private seq = 1;

  constructor(
    private readonly market: Market,
    seed = 1,
  ) {
    const rng = Prng.derive(seed, 'fe:bybit');
    for (const inst of market.instruments.values()) {
      if (inst.spec.venue !== 'bybit') continue;
      const mid = inst.price(Math.round((inst.bestBid + inst.bestAsk) / 2));
      this.syms.set(inst.spec.venueSymbol, {
        inst,
        vs: inst.spec.venueSymbol,
        window: new DepthWindow(inst, BYBIT_BOOK_DEPTH, false),
        u: 1_000_000 + rng.int(1_000_000),
        gapArmed: false,
        liq: null,
        ticker: {},
        lastPrice: mid,
      });
      for (const c of Object.values(this.counters)) c[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd(wsOnlyHooks(ROUTE, (c, text) => this.clientMessage(c, text)));
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
    // Paused market: send the pending liquidation batch so the wire is quiescent.
    this.fe.follow(this.market, 'pause', () => this.syms.forEach((s) => this.flushLiq(s)));
  }

  async close(): Promise<void> {
    await this.fe.close();
  }

  faults() {
    const pick = (symbol?: string) => pickSymbols(this.syms.values(), symbol);
    return {
      ...this.fe.baseFaults('orderbook'),
      /** The next book delta of the symbol(s) is lost: `u` skips one. */
      sequenceGap: (symbol?: string) => pick(symbol).forEach((s) => (s.gapArmed = true)),
      /** Bybit re-sends a snapshot mid-stream (it "has a problem"): clients must replace their book. */
      midStreamSnapshot: (symbol?: string) => pick(symbol).forEach((s) => this.broadcastSnapshot(s, s.u + 1)),
      /** Service restart: a snapshot with `u=1`, deltas continue from 2. */
      restart: (symbol?: string) => pick(symbol).forEach((s) => this.broadcastSnapshot(s, 1)),
    };
  }

  // ---- wire

  private bookTopic(s: SymState): string {
    return `orderbook.${BYBIT_BOOK_DEPTH}.${s.vs}`;
  }

  private levels(s: SymState, m: TickLevels | [number, number][]): [string, string][] {
    return [...m].map(([t, lots]) => [s.inst.price(t), s.inst.qty(lots)]);
  }

  private bookFrame(s: SymState, type: 'snapshot' | 'delta', ts: number, bids: TickLevels | [number, number][], asks: TickLevels | [number, number][]): string {
    const data = { s: s.vs, b: this.levels(s, bids), a: this.levels(s, asks), u: s.u, seq: this.seq++ };
    return JSON.stringify({ topic: this.bookTopic(s), type, ts, data, cts: ts - 1 });
  }

  private snapshotFrame(s: SymState, ts = Date.now()): string {
    return this.bookFrame(s, 'snapshot', ts, s.window.view('bid'), s.window.view('ask'));
  }

  private broadcastSnapshot(s: SymState, u: number): void {
    s.u = u;
    this.publish(s, this.bookTopic(s), this.snapshotFrame(s));
  }

  private publish(s: SymState, topic: string, text: string): void {
    if (!this.fe.hasSubscribers(topic)) return;
    this.fe.broadcast(topic, text);
    if (topic.startsWith('orderbook')) this.counters.bookMessages[s.inst.spec.symbol]++;
  }

  private tickerFields(s: SymState, st: InstrumentStep | null): Fields {
    const t = st?.ticker;
    const f: Fields = { symbol: s.vs, lastPrice: s.lastPrice };
    if (!t) return { ...s.ticker, ...f };
    const dp = s.inst.priceDecimals + 2;
    return {
      ...f,
      markPrice: t.mark.toFixed(dp),
      indexPrice: t.index.toFixed(dp),
      fundingRate: t.fundingRate.toFixed(6),
      nextFundingTime: String(t.nextFundingTime),
      openInterest: s.inst.qty(t.openInterestLots),
      fundingIntervalHour: '8',
    };
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const s = this.syms.get(st.inst.spec.venueSymbol);
      if (!s || st.inst !== s.inst) continue;
      const ts = st.ts;
      const ch = s.window.advance();
      if (ch.bids.size + ch.asks.size > 0) {
        s.u++;
        if (s.gapArmed) s.gapArmed = false; // lost on the wire
        else this.publish(s, this.bookTopic(s), this.bookFrame(s, 'delta', ts, ch.bids, ch.asks));
      }
      if (st.trades.length > 0) {
        const data = st.trades.map((tr) => ({
          T: ts,
          s: s.vs,
          S: tr.side === 'buy' ? 'Buy' : 'Sell',
          v: s.inst.qty(tr.lots),
          p: s.inst.price(tr.priceTicks),
          L: 'ZeroPlusTick',
          i: `${s.vs}-${tr.id}`,
          BT: false,
          RPI: false,
          seq: this.seq,
        }));
        s.lastPrice = s.inst.price(st.trades[st.trades.length - 1].priceTicks);
        const topic = `publicTrade.${s.vs}`;
        if (this.fe.hasSubscribers(topic)) this.counters.trades[s.inst.spec.symbol] += data.length;
        this.publish(s, topic, JSON.stringify({ topic, type: 'snapshot', ts, data }));
      }
      for (const l of st.liquidations) this.addLiq(s, l, ts);
      if (s.liq && ts - s.liq.start >= 500) this.flushLiq(s);
      if (st.ticker) {
        const next = this.tickerFields(s, st);
        const delta: Fields = { symbol: s.vs };
        for (const [k, v] of Object.entries(next)) if (s.ticker[k] !== v) delta[k] = v;
        s.ticker = next;
        const topic = `tickers.${s.vs}`;
        if (Object.keys(delta).length > 1) this.publish(s, topic, JSON.stringify({ topic, type: 'delta', data: delta, cs: this.seq++, ts }));
      }
    }
  }

  private addLiq(s: SymState, l: SimLiquidation, ts: number): void {
    // S is the position side: Buy = a long was liquidated. p is the bankruptcy price.
    const row = { T: ts, s: s.vs, S: l.position === 'long' ? 'Buy' : 'Sell', v: s.inst.qty(l.lots), p: s.inst.price(l.priceTicks) };
    if (!s.liq) s.liq = { start: ts, rows: [] };
    s.liq.rows.push(row);
  }

  private flushLiq(s: SymState): void {
    const batch = s.liq;
    s.liq = null;
    if (!batch || batch.rows.length === 0) return;
    const topic = `allLiquidation.${s.vs}`;
    if (this.fe.hasSubscribers(topic)) this.counters.liquidations[s.inst.spec.symbol] += batch.rows.length;
    this.publish(s, topic, JSON.stringify({ topic, type: 'snapshot', ts: Date.now(), data: batch.rows }));
  }

  private clientMessage(c: SimClient, text: string): string[] {
    let msg: { op?: string; args?: unknown; req_id?: string };
    try {
      msg = JSON.parse(text);
    } catch {
      return [JSON.stringify({ success: false, ret_msg: 'error:request not json', conn_id: 'sim', op: '' })];
    }
    const ack = (success: boolean, ret_msg = '') => JSON.stringify({ success, ret_msg, conn_id: 'sim', req_id: msg.req_id ?? '', op: msg.op });
    if (msg.op === 'ping') {
      this.fe.sendTo(c, JSON.stringify({ success: true, ret_msg: 'pong', conn_id: 'sim', req_id: msg.req_id ?? '', op: 'ping' }));
      return [];
    }
    const topics = Array.isArray(msg.args) ? (msg.args as unknown[]).map(String) : [];
    if (msg.op === 'unsubscribe') {
      for (const t of topics) c.streams.delete(t);
      this.fe.sendTo(c, ack(true));
      return [];
    }
    if (msg.op !== 'subscribe') return [ack(false, `error:unknown op ${String(msg.op)}`)];
    const bad = topics.find((t) => !this.known(t) || c.streams.has(t));
    if (bad) return [ack(false, c.streams.has(bad) ? `error:already subscribed,topic:${bad}` : `error:handler not found,topic:${bad}`)];
    this.fe.sendTo(c, ack(true));
    for (const t of topics) {
      c.streams.add(t);
      const s = this.syms.get(t.slice(t.lastIndexOf('.') + 1))!;
      if (t.startsWith('orderbook.')) this.fe.sendTo(c, this.snapshotFrame(s), t);
      if (t.startsWith('tickers.')) {
        s.ticker = this.tickerFields(s, null);
        this.fe.sendTo(c, JSON.stringify({ topic: t, type: 'snapshot', data: s.ticker, cs: this.seq++, ts: Date.now() }), t);
      }
    }
    return [];
  }

  private known(topic: string): boolean {
    const m = /^(orderbook\.(\d+)|publicTrade|allLiquidation|tickers)\.([A-Z0-9]+)$/.exec(topic);
    return m !== null && this.syms.has(m[3]) && (m[2] === undefined || Number(m[2]) === BYBIT_BOOK_DEPTH);
  }
}

export function bybitFrontEnd(market: Market, seed?: number): BybitSimVenue {
  return new BybitSimVenue(market, seed);
}
