import { crc32 } from '../../sync/crc32.ts';
import { DepthWindow } from '../depth-window.ts';
import { FrontEnd, type SimClient, type SimVenue } from '../front-end.ts';
import type { Instrument, InstrumentStep, Market } from '../market.ts';
import { rfc3339Micros } from '../wire.ts';

/**
 * Kraken spot WebSocket v2 front end (`/v2`): `{"method":"subscribe","params":{channel, symbol[],
 * depth, snapshot}}` with one ack per symbol, `book` snapshot then updates over a depth window
 * (levels pushed out of the window get no delete: clients truncate), each message carrying the
 * CRC32 of the top 10 levels computed from the wire strings, prices and quantities written as JSON
 * numbers WITH their trailing zeros (`0.50000000`, which JSON.parse turns into 0.5), `trade` with
 * the taker side, `ticker` on trades, `{"channel":"heartbeat"}` after a second of silence, and
 * `{"method":"ping"}` → pong.
 *
 * Faults: disconnects, malformed/truncated frames, stalls (front-end.ts); a wrong checksum on the
 * next book update of a symbol; a lost book update (one that changes the top 10, so the checksum
 * of the next update exposes it).
 */

const DEPTHS = [10, 25, 100, 500, 1000];

interface Pair {
  inst: Instrument;
  vs: string;
  windows: Map<number, DepthWindow>;
  badChecksum: boolean;
  dropNext: boolean;
  last: string;
}

export class KrakenSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, bookMessages: {} as Record<string, number>, pings: 0 };
  private readonly pairs = new Map<string, Pair>();
  /** Per client: wall ms of the last frame sent (heartbeats fill silences) and the depth of each book subscription. */
  private readonly clientState = new Map<SimClient, { lastSent: number; depth: Map<string, number> }>();

  constructor(private readonly market: Market) {
    for (const inst of market.instruments.values()) {
      if (inst.spec.venue !== 'kraken') continue;
      const vs = inst.spec.venueSymbol;
      this.pairs.set(vs, { inst, vs, windows: new Map([[1000, new DepthWindow(inst, 1000, false)]]), badChecksum: false, dropNext: false, last: inst.price(inst.bestBid) });
      this.counters.trades[inst.spec.symbol] = 0;
      this.counters.liquidations[inst.spec.symbol] = 0;
      this.counters.bookMessages[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd({
      rest: () => null,
      accept: (path) => (path === '/v2' || path === '/' ? [] : null),
      onClientMessage: (c, text) => {
        this.clientMessage(c, text);
        return [];
      },
    });
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
    this.fe.every(100, () => this.heartbeats());
  }

  async close(): Promise<void> {
    await this.fe.close();
  }

  faults() {
    const pick = (symbol?: string) => [...this.pairs.values()].filter((p) => !symbol || p.inst.spec.symbol === symbol || p.vs === symbol);
    return {
      ...this.fe.baseFaults('book:'),
      /** The next book update of the symbol(s) carries a wrong checksum. */
      badChecksum: (symbol?: string) => pick(symbol).forEach((p) => (p.badChecksum = true)),
      /** The next book update of the symbol(s) that changes the top 10 is lost on the wire. */
      sequenceGap: (symbol?: string) => pick(symbol).forEach((p) => (p.dropNext = true)),
      pings: () => this.counters.pings,
    };
  }

  // ---- wire

  private st(c: SimClient) {
    let s = this.clientState.get(c);
    if (!s) {
      s = { lastSent: Date.now(), depth: new Map() };
      this.clientState.set(c, s);
    }
    return s;
  }

  private send(c: SimClient, text: string, stream = ''): void {
    this.st(c).lastSent = Date.now();
    this.fe.sendTo(c, text, stream);
  }

  private window(p: Pair, depth: number): DepthWindow {
    let w = p.windows.get(depth);
    if (!w) p.windows.set(depth, (w = new DepthWindow(p.inst, depth, false)));
    return w;
  }

  /** Levels as JSON numbers written at full precision (trailing zeros kept, as Kraken does). */
  private levels(inst: Instrument, rows: Iterable<[number, number]>): string {
    const out: string[] = [];
    for (const [t, lots] of rows) out.push(`{"price":${inst.price(t)},"qty":${inst.qty(lots)}}`);
    return `[${out.join(',')}]`;
  }

  /** CRC32 over the wire strings of the window's top 10 (asks ascending, then bids descending). */
  private checksum(p: Pair, w: DepthWindow): number {
    const part = (s: string) => s.replace('.', '').replace(/^0+/, '');
    let s = '';
    for (const side of ['ask', 'bid'] as const) for (const [t, lots] of w.view(side).slice(0, 10)) s += part(p.inst.price(t)) + part(p.inst.qty(lots));
    return crc32(s);
  }

  private bookMessage(p: Pair, w: DepthWindow, type: 'snapshot' | 'update', bids: Iterable<[number, number]>, asks: Iterable<[number, number]>, ts: number, checksum: number): string {
    return `{"channel":"book","type":"${type}","data":[{"symbol":"${p.vs}","bids":${this.levels(p.inst, bids)},"asks":${this.levels(p.inst, asks)},"checksum":${checksum},"timestamp":"${rfc3339Micros(ts)}"}]}`;
  }

  private snapshot(c: SimClient, p: Pair, depth: number): void {
    const w = this.window(p, depth);
    this.send(c, this.bookMessage(p, w, 'snapshot', w.view('bid'), w.view('ask'), Date.now(), this.checksum(p, w)), `book:${p.vs}`);
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const p = this.pairs.get(st.inst.spec.venueSymbol);
      if (!p || p.inst !== st.inst) continue;
      const stream = `book:${p.vs}`;
      for (const [depth, w] of p.windows) {
        const top10 = () => JSON.stringify([w.view('bid').slice(0, 10), w.view('ask').slice(0, 10)]);
        const before = top10();
        const ch = w.advance();
        if (ch.bids.size + ch.asks.size === 0) continue;
        // A lost update must change the top 10 so the next checksum exposes it (deeper losses are invisible on Kraken).
        const touchesTop = top10() !== before;
        const subs = [...this.fe.clients].filter((c) => c.streams.has(stream) && this.st(c).depth.get(p.vs) === depth);
        if (!subs.length) continue;
        if (p.dropNext && touchesTop) {
          p.dropNext = false;
          continue;
        }
        let checksum = this.checksum(p, w);
        if (p.badChecksum) {
          p.badChecksum = false;
          checksum = (checksum + 1) >>> 0;
        }
        const text = this.bookMessage(p, w, 'update', ch.bids, ch.asks, st.ts, checksum);
        this.counters.bookMessages[p.inst.spec.symbol]++;
        for (const c of subs) this.send(c, text, stream);
      }
      if (!st.trades.length) continue;
      const time = rfc3339Micros(st.ts);
      const rows = st.trades.map((tr) => `{"symbol":"${p.vs}","side":"${tr.side}","price":${p.inst.price(tr.priceTicks)},"qty":${p.inst.qty(tr.lots)},"ord_type":"market","trade_id":${tr.id},"timestamp":"${time}"}`);
      p.last = p.inst.price(st.trades.at(-1)!.priceTicks);
      const trades = this.subscribers(`trade:${p.vs}`);
      if (trades.length) this.counters.trades[p.inst.spec.symbol] += st.trades.length;
      for (const c of trades) this.send(c, `{"channel":"trade","type":"update","data":[${rows.join(',')}]}`, `trade:${p.vs}`);
      for (const c of this.subscribers(`ticker:${p.vs}`)) this.send(c, this.ticker(p, 'update', st.ts), `ticker:${p.vs}`);
    }
  }

  private subscribers(stream: string): SimClient[] {
    return [...this.fe.clients].filter((c) => c.streams.has(stream));
  }

  private ticker(p: Pair, type: 'snapshot' | 'update', ts: number): string {
    const bid = p.inst.bestBid;
    const ask = p.inst.bestAsk;
    const qty = (m: Map<number, number>, t: number) => p.inst.qty(m.get(t) ?? 0);
    return `{"channel":"ticker","type":"${type}","data":[{"symbol":"${p.vs}","bid":${p.inst.price(bid)},"bid_qty":${qty(p.inst.bids, bid)},"ask":${p.inst.price(ask)},"ask_qty":${qty(p.inst.asks, ask)},"last":${p.last},"volume":1234.5,"vwap":${p.last},"low":${p.last},"high":${p.last},"change":0,"change_pct":0,"timestamp":"${rfc3339Micros(ts)}"}]}`;
  }

  private heartbeats(): void {
    const now = Date.now();
    for (const c of this.fe.clients) {
      if (c.streams.size > 0 && now - this.st(c).lastSent >= 1000) this.send(c, '{"channel":"heartbeat"}');
    }
  }

  private ack(c: SimClient, method: string, reqId: unknown, result: Record<string, unknown> | null, error?: string): void {
    const now = rfc3339Micros(Date.now());
    const body: Record<string, unknown> = { method, success: !error, time_in: now, time_out: now };
    if (result) body.result = result;
    if (error) body.error = error;
    if (error && result?.symbol) body.symbol = result.symbol;
    if (reqId !== undefined) body.req_id = reqId;
    this.send(c, JSON.stringify(body));
  }

  private clientMessage(c: SimClient, text: string): void {
    let msg: { method?: string; req_id?: unknown; params?: { channel?: string; symbol?: string[]; depth?: number; snapshot?: boolean } };
    try {
      msg = JSON.parse(text);
    } catch {
      this.send(c, JSON.stringify({ error: 'Malformed request', success: false, time_in: rfc3339Micros(Date.now()), time_out: rfc3339Micros(Date.now()) }));
      return;
    }
    if (msg.method === 'ping') {
      this.counters.pings++;
      this.ack(c, 'pong', msg.req_id, null);
      return;
    }
    if (msg.method !== 'subscribe' && msg.method !== 'unsubscribe') {
      this.ack(c, String(msg.method), msg.req_id, null, 'Method not found');
      return;
    }
    const channel = msg.params?.channel ?? '';
    const depth = msg.params?.depth ?? 10;
    const snapshot = msg.params?.snapshot ?? true;
    for (const vs of msg.params?.symbol ?? []) {
      const p = this.pairs.get(vs);
      const stream = `${channel}:${vs}`;
      const result: Record<string, unknown> = { channel, symbol: vs };
      if (channel === 'book') result.depth = depth;
      if (!p || !['book', 'trade', 'ticker'].includes(channel) || (channel === 'book' && !DEPTHS.includes(depth))) {
        this.ack(c, msg.method, msg.req_id, result, p ? 'Invalid channel or depth' : 'Currency pair not supported');
        continue;
      }
      if (msg.method === 'unsubscribe') {
        if (!c.streams.delete(stream)) this.ack(c, 'unsubscribe', msg.req_id, result, 'Subscription Not Found');
        else this.ack(c, 'unsubscribe', msg.req_id, result);
        continue;
      }
      c.streams.add(stream);
      if (channel === 'book') this.st(c).depth.set(vs, depth);
      this.ack(c, 'subscribe', msg.req_id, { ...result, snapshot });
      if (!snapshot) continue;
      if (channel === 'book') this.snapshot(c, p, depth);
      else if (channel === 'ticker') this.send(c, this.ticker(p, 'snapshot', Date.now()), stream);
    }
  }
}

export function krakenFrontEnd(market: Market): KrakenSimVenue {
  return new KrakenSimVenue(market);
}
