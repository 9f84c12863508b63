import { FrontEnd, type SimClient, type SimVenue } from '../front-end.ts';
import type { Instrument, InstrumentStep, Market } from '../market.ts';
import { rfc3339Micros, sortedTicks } from '../wire.ts';

/**
 * Coinbase Advanced Trade front end: one socket URL, JSON subscribe/unsubscribe per channel
 * (`level2`, `market_trades`, `heartbeats`), envelopes `{channel, client_id, timestamp,
 * sequence_num, events}` with ONE sequence per connection across every channel, `l2_data` full-book
 * snapshot then updates (`bid`/`offer`, absolute `new_quantity`), `market_trades` reporting the
 * maker side with a history snapshot on subscribe, heartbeats every second.
 *
 * Faults: disconnects, malformed/truncated frames, stalls (front-end.ts), a lost l2 update (its
 * sequence number is consumed, so the next message on the socket shows the gap), a sequence gap on a
 * heartbeat, deletes of levels never published, and channels closed after `idleCloseMs` without
 * updates on sockets not subscribed to heartbeats.
 */

export interface CoinbaseSimOptions {
  market: Market;
  /** Heartbeat cadence (the venue: 1 s). */
  heartbeatMs?: number;
  /** A channel with no message for this long is closed unless the socket subscribed heartbeats (venue: 60–90 s). */
  idleCloseMs?: number;
}

interface ClientState {
  seq: number;
  heartbeats: boolean;
  counter: number;
  /** stream → wall ms of its last message (or subscription). */
  lastSent: Map<string, number>;
  /** Streams the venue closed for idleness (kept to let tests see it). */
  closed: Set<string>;
}

interface Product {
  inst: Instrument;
  id: string;
  dropNext: boolean;
  unknownDelete: boolean;
  recent: object[];
}

const CHANNEL_OF: Record<string, string> = { level2: 'l2_data', market_trades: 'market_trades' };

export class CoinbaseSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, depthEvents: {} as Record<string, number> };
  private readonly products = new Map<string, Product>();
  private readonly state = new Map<SimClient, ClientState>();
  private heartbeatGap = false;
  private lastHeartbeat = 0;
  private idleCloseMs: number;

  constructor(private readonly o: CoinbaseSimOptions) {
    this.idleCloseMs = o.idleCloseMs ?? 60_000;
    for (const inst of o.market.instruments.values()) {
      if (inst.spec.venue !== 'coinbase') continue;
      this.products.set(inst.spec.venueSymbol, { inst, id: inst.spec.venueSymbol, dropNext: false, unknownDelete: false, recent: [] });
      this.counters.trades[inst.spec.symbol] = 0;
      this.counters.liquidations[inst.spec.symbol] = 0;
      this.counters.depthEvents[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd({
      rest: () => null,
      accept: (path) => (path === '/' ? [] : null),
      onClientMessage: (c, text) => {
        this.clientMessage(c, text);
        return [];
      },
    });
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.o.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
    this.fe.every(50, () => this.housekeeping());
  }

  async close(): Promise<void> {
    await this.fe.close();
  }

  faults() {
    const pick = (symbol?: string) => [...this.products.values()].filter((p) => !symbol || p.inst.spec.symbol === symbol || p.id === symbol);
    return {
      ...this.fe.baseFaults('level2'),
      /** The next l2 update of the product(s) is lost on the wire: its sequence number is consumed. */
      sequenceGap: (symbol?: string) => pick(symbol).forEach((p) => (p.dropNext = true)),
      /** The next heartbeat on every socket skips a sequence number. */
      heartbeatGap: () => (this.heartbeatGap = true),
      /** The next l2 update of the product(s) also deletes an offer level that was never published. */
      unknownLevelDelete: (symbol?: string) => pick(symbol).forEach((p) => (p.unknownDelete = true)),
      /** Close channels idle for `ms` on sockets without heartbeats (the venue: 60–90 s). */
      idleCloseAfter: (ms: number) => (this.idleCloseMs = ms),
      /** Streams the venue closed for idleness, per connection. */
      idleClosed: () => [...this.state.values()].map((s) => [...s.closed]),
    };
  }

  // ---- wire

  private st(c: SimClient): ClientState {
    let s = this.state.get(c);
    if (!s) {
      s = { seq: 0, heartbeats: false, counter: 0, lastSent: new Map(), closed: new Set() };
      this.state.set(c, s);
    }
    return s;
  }

  /** One envelope to one client, numbered on its connection. */
  private send(c: SimClient, channel: string, events: object[], stream = '', now = Date.now()): void {
    const s = this.st(c);
    const text = JSON.stringify({ channel, client_id: '', timestamp: rfc3339Micros(now), sequence_num: s.seq++, events });
    if (stream) s.lastSent.set(stream, now);
    this.fe.sendTo(c, text, stream);
  }

  private subscribers(stream: string): SimClient[] {
    return [...this.fe.clients].filter((c) => c.streams.has(stream));
  }

  private level(side: 'bid' | 'offer', inst: Instrument, ticks: number, lots: number, time: string): object {
    return { side, event_time: time, price_level: inst.price(ticks), new_quantity: lots > 0 ? inst.qty(lots) : '0' };
  }

  private snapshot(c: SimClient, p: Product): void {
    const time = rfc3339Micros(Date.now());
    const updates = [
      ...sortedTicks(p.inst, 'bid').map((t) => this.level('bid', p.inst, t, p.inst.bids.get(t)!, time)),
      ...sortedTicks(p.inst, 'ask').map((t) => this.level('offer', p.inst, t, p.inst.asks.get(t)!, time)),
    ];
    this.send(c, 'l2_data', [{ type: 'snapshot', product_id: p.id, updates }], `level2:${p.id}`);
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const p = this.products.get(st.inst.spec.venueSymbol);
      if (!p || p.inst !== st.inst) continue;
      const time = rfc3339Micros(st.ts);
      if (st.bids.size + st.asks.size > 0 || p.unknownDelete) {
        const updates = [...[...st.bids].map(([t, l]) => this.level('bid', p.inst, t, l, time)), ...[...st.asks].map(([t, l]) => this.level('offer', p.inst, t, l, time))];
        if (p.unknownDelete) {
          p.unknownDelete = false;
          const far = Math.max(...p.inst.asks.keys()) + 7; // never in the book
          updates.push(this.level('offer', p.inst, far, 0, time));
        }
        const stream = `level2:${p.id}`;
        const subs = this.subscribers(stream);
        if (subs.length) this.counters.depthEvents[p.inst.spec.symbol]++;
        for (const c of subs) {
          if (p.dropNext) this.st(c).seq++; // lost: the number is used, the frame never arrives
          else this.send(c, 'l2_data', [{ type: 'update', product_id: p.id, updates }], stream, st.ts);
        }
        p.dropNext = false;
      }
      if (st.trades.length) {
        // The venue reports the maker side: a taker buy lifts a resting SELL.
        const trades = st.trades.map((tr) => ({ trade_id: String(tr.id), product_id: p.id, price: p.inst.price(tr.priceTicks), size: p.inst.qty(tr.lots), side: tr.side === 'buy' ? 'SELL' : 'BUY', time }));
        p.recent = [...p.recent, ...trades].slice(-50);
        const stream = `market_trades:${p.id}`;
        const subs = this.subscribers(stream);
        if (subs.length) this.counters.trades[p.inst.spec.symbol] += trades.length;
        for (const c of subs) this.send(c, 'market_trades', [{ type: 'update', trades }], stream, st.ts);
      }
    }
  }

  private housekeeping(): void {
    const now = Date.now();
    const beat = now - this.lastHeartbeat >= (this.o.heartbeatMs ?? 1000);
    if (beat) this.lastHeartbeat = now;
    const gap = beat && this.heartbeatGap;
    if (gap) this.heartbeatGap = false;
    for (const c of this.fe.clients) {
      const s = this.st(c);
      if (s.heartbeats) {
        if (!beat) continue;
        if (gap) s.seq++;
        const t = new Date(now).toISOString().replace('T', ' ').replace('Z', ' +0000 UTC');
        this.send(c, 'heartbeats', [{ current_time: t, heartbeat_counter: ++s.counter }], '', now);
        continue;
      }
      // Without heartbeats, channels with no updates are closed by the venue.
      for (const stream of [...c.streams]) {
        if (now - (s.lastSent.get(stream) ?? now) >= this.idleCloseMs) {
          c.streams.delete(stream);
          s.closed.add(stream);
        }
      }
    }
  }

  private clientMessage(c: SimClient, text: string): void {
    const s = this.st(c);
    let msg: { type?: string; channel?: string; product_ids?: string[] };
    try {
      msg = JSON.parse(text);
    } catch {
      this.fe.sendTo(c, JSON.stringify({ type: 'error', message: 'failure to parse request' }));
      return;
    }
    const subscribe = msg.type === 'subscribe';
    if ((!subscribe && msg.type !== 'unsubscribe') || !msg.channel) {
      this.fe.sendTo(c, JSON.stringify({ type: 'error', message: 'invalid request type or channel' }));
      return;
    }
    if (msg.channel === 'heartbeats') s.heartbeats = subscribe;
    else if (CHANNEL_OF[msg.channel]) {
      const ids = msg.product_ids ?? [];
      const unknown = ids.filter((id) => !this.products.has(id));
      if (unknown.length) {
        this.fe.sendTo(c, JSON.stringify({ type: 'error', message: `Failed to subscribe: unknown product ${unknown.join(',')}` }));
        return;
      }
      for (const id of ids) {
        const stream = `${msg.channel}:${id}`;
        if (subscribe) {
          c.streams.add(stream);
          s.closed.delete(stream);
          s.lastSent.set(stream, Date.now());
        } else c.streams.delete(stream);
      }
    } else {
      this.fe.sendTo(c, JSON.stringify({ type: 'error', message: `unsupported channel ${msg.channel}` }));
      return;
    }
    // Ack: the connection's current subscriptions, numbered like every other message.
    const subs: Record<string, string[]> = {};
    for (const stream of c.streams) {
      const [ch, id] = stream.split(':');
      (subs[ch] ??= []).push(id);
    }
    if (s.heartbeats) subs.heartbeats = ['heartbeats'];
    this.send(c, 'subscriptions', [{ subscriptions: subs }]);
    if (!subscribe) return;
    for (const id of msg.product_ids ?? []) {
      const p = this.products.get(id)!;
      if (msg.channel === 'level2') this.snapshot(c, p);
      else if (msg.channel === 'market_trades') this.send(c, 'market_trades', [{ type: 'snapshot', trades: [...p.recent].reverse() }], `market_trades:${id}`);
    }
  }
}

export function coinbaseFrontEnd(market: Market): CoinbaseSimVenue {
  return new CoinbaseSimVenue({ market });
}
