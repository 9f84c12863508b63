import { FrontEnd, pickSymbols, type RestReply, type SimClient, type SimVenue } from '../front-end.ts';
import { DepthWindow, type TickLevels } from '../depth-window.ts';
import type { Instrument, InstrumentStep, Market } from '../market.ts';
import { Prng } from '../prng.ts';
import { marketInfo, type MarketInfo } from '../../metadata/index.ts';
import { OKX_BOOK_DEPTH, okxChecksum, okxChecksumString } from '../../venues/okx.ts';
import { decimalsOf, plainDecimal } from '../../venues/util.ts';

/**
 * OKX v5 front end on `/ws/v5/public`: `{"op":"subscribe","args":[{channel,instId|instType}]}` with
 * `{"event":"subscribe",…}` acks, text `ping` → `pong`, `books` (400-level window that sends
 * removals for levels leaving it; snapshot prevSeqId -1, then updates chained prevSeqId → seqId
 * with non-contiguous seqIds; CRC32 over the top 25 or 0 as OKX sends today), trades, every
 * liquidation on `liquidation-orders` (SWAP), mark-price / index-tickers (200 ms), funding-rate /
 * open-interest (1 s); REST `/api/v5/market/books` with seqId. Sizes in contracts (lots × lotSz).
 * Venue faults: broken chain, idle heartbeat update, seqId reset, bad checksum, no in-band
 * snapshot (REST bootstrap), notice 64008, failing REST snapshots.
 */

const ROUTE = '/ws/v5/public';
const HOUR8 = 8 * 3600_000;

interface SymState {
  inst: Instrument;
  m: MarketInfo;
  vs: string;
  index: string;
  window: DepthWindow;
  seq: number;
  gapArmed: boolean;
  resetArmed: boolean;
  badChecksumArmed: boolean;
  last: Record<string, number>;
}

export interface OkxSimOptions {
  /** `crc32`: real checksums (the 2022 feed); `zero`: what OKX sends since 2026-06. */
  checksum?: 'crc32' | 'zero';
}

export class OkxSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, restBooks: 0 };
  private readonly syms = new Map<string, SymState>();
  private readonly rng: Prng;
  private inBandSnapshots = true;
  private failSnapshots = 0;
  private checksumMode: 'crc32' | 'zero';

  constructor(
    private readonly market: Market,
    seed = 1,
    opts: OkxSimOptions = {},
  ) {
    this.rng = Prng.derive(seed, 'fe:okx');
    this.checksumMode = opts.checksum ?? 'crc32';
    for (const inst of market.instruments.values()) {
      if (inst.spec.venue !== 'okx') continue;
      const vs = inst.spec.venueSymbol;
      this.syms.set(vs, {
        inst,
        m: marketInfo('okx', inst.spec.symbol, vs),
        vs,
        index: vs.split('-').slice(0, 2).join('-'),
        window: new DepthWindow(inst, OKX_BOOK_DEPTH, true),
        seq: 10_000_000 + this.rng.int(1_000_000),
        gapArmed: false,
        resetArmed: false,
        badChecksumArmed: false,
        last: {},
      });
      this.counters.trades[inst.spec.symbol] = 0;
      this.counters.liquidations[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd({
      rest: (path, q) => this.rest(path, q),
      accept: (path) => (path === ROUTE ? [] : null),
      onClientMessage: (c, text) => this.clientMessage(c, text),
    });
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
  }

  async close(): Promise<void> {
    await this.fe.close();
  }

  faults() {
    const pick = (symbol?: string) => pickSymbols(this.syms.values(), symbol);
    return {
      ...this.fe.baseFaults('books'),
      /** The next books update is lost: the following one's prevSeqId names it. */
      sequenceGap: (symbol?: string) => pick(symbol).forEach((s) => (s.gapArmed = true)),
      /** The idle heartbeat: an update with empty sides and prevSeqId == seqId. */
      heartbeat: (symbol?: string) => pick(symbol).forEach((s) => this.sendUpdate(s, Date.now(), new Map(), new Map(), s.seq)),
      /** After maintenance: the next update has seqId < prevSeqId. */
      sequenceReset: (symbol?: string) => pick(symbol).forEach((s) => (s.resetArmed = true)),
      /** The next books update of the symbol carries a wrong checksum. */
      badChecksum: (symbol?: string) => pick(symbol).forEach((s) => (s.badChecksumArmed = true)),
      checksumMode: (mode: 'crc32' | 'zero') => (this.checksumMode = mode),
      /** Subscribing to books sends no snapshot (announced by OKX): clients bootstrap from REST. */
      inBandSnapshots: (on: boolean) => (this.inBandSnapshots = on),
      /** `{"event":"notice","code":"64008"}`: the service is about to be upgraded. */
      notice: () => {
        for (const c of this.fe.clients) this.fe.sendTo(c, JSON.stringify({ event: 'notice', code: '64008', msg: 'The connection will soon be closed for a service upgrade. Please reconnect.', connId: 'sim' }));
      },
      failSnapshots: (n: number) => (this.failSnapshots = n),
    };
  }

  // ---- wire

  private px(s: SymState, ticks: number): string {
    return plainDecimal(ticks * s.inst.spec.tick, s.inst.priceDecimals);
  }

  /** Lots → venue size: contracts for derivatives (lotSz contracts per lot), base for spot. */
  private sz(s: SymState, lots: number): string {
    const lot = s.m.lotSize ?? s.inst.spec.lot;
    return plainDecimal(lots * lot, decimalsOf(lot));
  }

  private levels(s: SymState, m: TickLevels | [number, number][]): string[][] {
    return [...m].map(([t, lots]) => [this.px(s, t), this.sz(s, lots), '0', lots === 0 ? '0' : String(1 + (t % 5))]);
  }

  private checksum(s: SymState): number {
    if (this.checksumMode === 'zero') return 0;
    const side = (v: [number, number][]) => v.slice(0, 25).map(([t, lots]) => [this.px(s, t), this.sz(s, lots)] as const);
    return okxChecksum(okxChecksumString(side(s.window.view('bid')), side(s.window.view('ask'))));
  }

  private bookData(s: SymState, ts: number, bids: TickLevels | [number, number][], asks: TickLevels | [number, number][], prevSeqId: number, seqId: number) {
    return { asks: this.levels(s, asks), bids: this.levels(s, bids), ts: String(ts), checksum: this.checksum(s), prevSeqId, seqId };
  }

  private snapshotFrame(s: SymState): string {
    const data = this.bookData(s, Date.now(), s.window.view('bid'), s.window.view('ask'), -1, s.seq);
    return JSON.stringify({ arg: { channel: 'books', instId: s.vs }, action: 'snapshot', data: [data] });
  }

  private sendUpdate(s: SymState, ts: number, bids: TickLevels, asks: TickLevels, seqId: number): void {
    const data = this.bookData(s, ts, bids, asks, s.seq, seqId);
    if (s.badChecksumArmed && data.checksum !== 0) {
      s.badChecksumArmed = false;
      data.checksum ^= 0x5a5a;
    }
    s.seq = seqId;
    this.publish(`books:${s.vs}`, { arg: { channel: 'books', instId: s.vs }, action: 'update', data: [data] });
  }

  private publish(stream: string, body: object): boolean {
    if (!this.fe.hasSubscribers(stream)) return false;
    this.fe.broadcast(stream, JSON.stringify(body));
    return true;
  }

  /** True (and the clock restarted) when `every` ms passed since `key` was last sent. */
  private due(s: SymState, key: string, ts: number, every: number): boolean {
    if (ts - (s.last[key] ?? 0) < every) return false;
    s.last[key] = ts;
    return true;
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const s = this.syms.get(st.inst.spec.venueSymbol);
      if (!s || st.inst !== s.inst) continue;
      const ts = st.ts;
      const ch = s.window.advance();
      if (ch.bids.size + ch.asks.size > 0) {
        // seqIds are per instrument and not contiguous.
        const next = s.resetArmed ? 1 + this.rng.int(1000) : s.seq + 1 + this.rng.int(20);
        s.resetArmed = false;
        if (s.gapArmed) {
          s.gapArmed = false;
          s.seq = next; // lost on the wire
        } else this.sendUpdate(s, ts, ch.bids, ch.asks, next);
      }
      if (st.trades.length > 0) {
        const data = st.trades.map((tr) => ({ instId: s.vs, tradeId: String(tr.id), px: this.px(s, tr.priceTicks), sz: this.sz(s, tr.lots), side: tr.side, ts: String(ts), count: '1' }));
        if (this.publish(`trades:${s.vs}`, { arg: { channel: 'trades', instId: s.vs }, data })) this.counters.trades[s.inst.spec.symbol] += data.length;
      }
      if (s.m.type === 'spot') continue;
      if (st.liquidations.length > 0) {
        const details = st.liquidations.map((l) => ({ bkLoss: '0', bkPx: this.px(s, l.priceTicks), ccy: '', posSide: 'net', side: l.position === 'long' ? 'sell' : 'buy', sz: this.sz(s, l.lots), ts: String(ts) }));
        const row = { details, instFamily: s.index, instId: s.vs, instType: 'SWAP', uly: s.index };
        if (this.publish('liquidation-orders:SWAP', { arg: { channel: 'liquidation-orders', instType: 'SWAP' }, data: [row] })) this.counters.liquidations[s.inst.spec.symbol] += details.length;
      }
      const t = st.ticker;
      if (!t) continue;
      const dp = s.inst.priceDecimals + 1;
      const base = { instId: s.vs, instType: 'SWAP', ts: String(ts) };
      if (this.due(s, 'mark', ts, 200)) this.publish(`mark-price:${s.vs}`, { arg: { channel: 'mark-price', instId: s.vs }, data: [{ ...base, markPx: t.mark.toFixed(dp) }] });
      if (this.due(s, 'index', ts, 200)) this.publish(`index-tickers:${s.index}`, { arg: { channel: 'index-tickers', instId: s.index }, data: [{ instId: s.index, idxPx: t.index.toFixed(dp), ts: String(ts) }] });
      if (this.due(s, 'funding', ts, 1000)) {
        const f = { ...base, method: 'current_period', formulaType: 'withRate', fundingRate: t.fundingRate.toFixed(8), nextFundingRate: '', fundingTime: String(t.nextFundingTime), nextFundingTime: String(t.nextFundingTime + HOUR8), settState: 'settled' };
        this.publish(`funding-rate:${s.vs}`, { arg: { channel: 'funding-rate', instId: s.vs }, data: [f] });
      }
      if (this.due(s, 'oi', ts, 1000)) {
        const oi = this.sz(s, t.openInterestLots);
        this.publish(`open-interest:${s.vs}`, { arg: { channel: 'open-interest', instId: s.vs }, data: [{ ...base, oi, oiCcy: s.inst.qty(t.openInterestLots), oiUsd: (t.openInterestLots * s.inst.spec.lot * t.mark).toFixed(2) }] });
      }
    }
  }

  private rest(path: string, q: URLSearchParams): RestReply | null {
    if (path !== '/api/v5/market/books') return null;
    const s = this.syms.get(q.get('instId') ?? '');
    if (!s) return { status: 200, body: '{"code":"51001","msg":"Instrument ID does not exist","data":[]}' };
    if (this.failSnapshots > 0) {
      this.failSnapshots--;
      return { status: 503, body: '{"code":"50001","msg":"Service temporarily unavailable, please try again later.","data":[]}' };
    }
    this.counters.restBooks++;
    const sz = Math.min(Number(q.get('sz') ?? 1), OKX_BOOK_DEPTH);
    const data = this.bookData(s, Date.now(), s.window.view('bid').slice(0, sz), s.window.view('ask').slice(0, sz), -1, s.seq);
    return { status: 200, body: JSON.stringify({ code: '0', msg: '', data: [{ asks: data.asks, bids: data.bids, ts: data.ts, seqId: data.seqId }] }) };
  }

  private clientMessage(c: SimClient, text: string): string[] {
    if (text === 'ping') {
      this.fe.sendTo(c, 'pong');
      return [];
    }
    let msg: { id?: string; op?: string; args?: Record<string, string>[] };
    try {
      msg = JSON.parse(text);
    } catch {
      return [JSON.stringify({ event: 'error', code: '60012', msg: `Invalid request: ${text.slice(0, 40)}`, connId: 'sim' })];
    }
    if (msg.op !== 'subscribe' && msg.op !== 'unsubscribe') return [JSON.stringify({ event: 'error', code: '60012', msg: 'Invalid request', connId: 'sim' })];
    for (const arg of msg.args ?? []) {
      const key = `${arg.channel}:${arg.instId ?? arg.instType}`;
      const s = this.syms.get(arg.instId ?? '') ?? [...this.syms.values()].find((x) => arg.channel === 'index-tickers' && x.index === arg.instId);
      if (!s && arg.channel !== 'liquidation-orders') {
        this.fe.sendTo(c, JSON.stringify({ event: 'error', code: '60018', msg: `Wrong URL or channel:${arg.channel},instId:${arg.instId} doesn't exist`, connId: 'sim' }));
        continue;
      }
      this.fe.sendTo(c, JSON.stringify({ id: msg.id, event: msg.op, arg, connId: 'sim' }));
      if (msg.op === 'unsubscribe') {
        c.streams.delete(key);
        continue;
      }
      c.streams.add(key);
      if (arg.channel === 'books' && s && this.inBandSnapshots) this.fe.sendTo(c, this.snapshotFrame(s), key);
    }
    return [];
  }
}

export function okxFrontEnd(market: Market, seed?: number): OkxSimVenue {
  return new OkxSimVenue(market, seed);
}
