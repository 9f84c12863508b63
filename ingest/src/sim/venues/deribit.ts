import { FrontEnd, pickSymbols, wsOnlyHooks, type SimClient, type SimVenue } from '../front-end.ts';
import type { Instrument, InstrumentStep, Market } from '../market.ts';
import { Prng } from '../prng.ts';
import { classifyLevels } from '../wire.ts';

/**
 * Deribit v2 front end on `/ws/api/v2` (JSON-RPC 2.0): `public/subscribe` / `public/unsubscribe`
 * with results, `book.{inst}.100ms` snapshot on subscribe then `change` notifications whose
 * `prev_change_id` is the previous `change_id` (ids grow by irregular steps, as on Deribit), levels
 * `[new|change|delete, price, amount]` with amounts in USD (contracts × contract size), trades in
 * batches with the taker `direction` and the `liquidation` flag (`T`, every fourth one `MT`: a
 * liquidated short was the maker), tickers with USD open interest and `funding_8h`.
 * Keepalive: after `public/set_heartbeat` a `test_request` every interval (scenario seconds, so
 * time-compressed with the market); a client that has not answered the previous one with
 * `public/test` is disconnected, as Deribit does. Venue faults: change-id gap, test_request now.
 */

const ROUTE = '/ws/api/v2';
const CHANNEL = /^(book|trades|ticker)\.([^.]+)\.(100ms|raw|agg2)$/;

interface SymState {
  inst: Instrument;
  vs: string;
  changeId: number;
  /** Price ticks a subscriber holds: decides `new` vs `change`. */
  bids: Set<number>;
  asks: Set<number>;
  gapArmed: boolean;
  tradeSeq: number;
  lastPrice: number;
}

interface HeartbeatState {
  timer: NodeJS.Timeout;
  awaiting: boolean;
}

export class DeribitSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, bookChanges: {} as Record<string, number> };
  readonly heartbeats = { sent: 0, answered: 0, kills: 0 };
  private readonly syms = new Map<string, SymState>();
  private readonly beats = new Map<SimClient, HeartbeatState>();
  private readonly rng: Prng;

  constructor(
    private readonly market: Market,
    seed = 1,
  ) {
    this.rng = Prng.derive(seed, 'fe:deribit');
    for (const inst of market.instruments.values()) {
      if (inst.spec.venue !== 'deribit') continue;
      this.syms.set(inst.spec.venueSymbol, {
        inst,
        vs: inst.spec.venueSymbol,
        changeId: 30_000_000_000 + this.rng.int(1_000_000),
        bids: new Set(inst.bids.keys()),
        asks: new Set(inst.asks.keys()),
        gapArmed: false,
        tradeSeq: 1,
        lastPrice: Number(inst.price(inst.bestBid)),
      });
      for (const c of Object.values(this.counters)) c[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd(wsOnlyHooks(ROUTE, (c, text) => this.request(c, text)));
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
  }

  async close(): Promise<void> {
    for (const b of this.beats.values()) clearInterval(b.timer);
    await this.fe.close();
  }

  faults() {
    return {
      ...this.fe.baseFaults('book.'),
      /** The next book change of the symbol(s) is lost: the following one's prev_change_id points at it. */
      sequenceGap: (symbol?: string) => pickSymbols(this.syms.values(), symbol).forEach((s) => (s.gapArmed = true)),
      /** Send a test_request to every client with a heartbeat now (the answer is due before the next one). */
      testRequest: () => {
        for (const [c, b] of this.beats) this.sendTestRequest(c, b);
      },
      heartbeats: () => ({ ...this.heartbeats }),
    };
  }

  // ---- JSON-RPC requests

  private request(c: SimClient, text: string): string[] {
    let req: { id?: unknown; method?: unknown; params?: Record<string, unknown> };
    try {
      req = JSON.parse(text);
    } catch {
      return [JSON.stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'parse_error' }, testnet: false })];
    }
    const reply = (result: unknown) => JSON.stringify({ jsonrpc: '2.0', id: req.id ?? null, result, usIn: Date.now() * 1000, usOut: Date.now() * 1000, usDiff: 0, testnet: false });
    const channels = Array.isArray(req.params?.channels) ? (req.params.channels as unknown[]).filter((x): x is string => typeof x === 'string') : [];
    switch (req.method) {
      case 'public/subscribe': {
        // `raw` needs an authorized session: only the aggregated intervals are granted publicly.
        const granted = channels.filter((ch) => CHANNEL.test(ch) && !ch.endsWith('.raw') && this.syms.has(CHANNEL.exec(ch)![2]));
        this.fe.sendTo(c, reply(granted));
        for (const ch of granted) {
          c.streams.add(ch);
          if (ch.startsWith('book.')) this.fe.sendTo(c, this.snapshot(this.syms.get(CHANNEL.exec(ch)![2])!), ch);
        }
        return [];
      }
      case 'public/unsubscribe':
        for (const ch of channels) c.streams.delete(ch);
        return [reply(channels)];
      case 'public/set_heartbeat': {
        const interval = Number(req.params?.interval);
        if (!Number.isFinite(interval) || interval < 10) return [JSON.stringify({ jsonrpc: '2.0', id: req.id ?? null, error: { code: 11029, message: 'invalid_arguments' } })];
        this.startHeartbeat(c, interval);
        return [reply('ok')];
      }
      case 'public/test': {
        const b = this.beats.get(c);
        if (b?.awaiting) {
          b.awaiting = false;
          this.heartbeats.answered++;
        }
        return [reply({ version: '1.2.26' })];
      }
      default:
        return [JSON.stringify({ jsonrpc: '2.0', id: req.id ?? null, error: { code: -32601, message: 'Method not found' } })];
    }
  }

  private startHeartbeat(c: SimClient, intervalS: number): void {
    const prev = this.beats.get(c);
    if (prev) clearInterval(prev.timer);
    // Scenario seconds: a time-compressed market compresses the heartbeat too.
    const timer = setInterval(() => this.sendTestRequest(c, b), (intervalS * 1000) / this.market.timeScale);
    timer.unref();
    const b: HeartbeatState = { timer, awaiting: false };
    this.beats.set(c, b);
    c.ws.once('close', () => {
      clearInterval(timer);
      this.beats.delete(c);
    });
  }

  private sendTestRequest(c: SimClient, b: HeartbeatState): void {
    if (b.awaiting) {
      // The previous test_request went unanswered: Deribit drops the connection.
      this.heartbeats.kills++;
      clearInterval(b.timer);
      this.beats.delete(c);
      c.ws.terminate();
      return;
    }
    b.awaiting = true;
    this.heartbeats.sent++;
    // Heartbeats bypass a stalled data path (they come from the session layer, not the book feed).
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'heartbeat', params: { type: 'test_request' } }));
  }

  // ---- notifications

  private notify(channel: string, data: unknown): boolean {
    if (!this.fe.hasSubscribers(channel)) return false;
    this.fe.broadcast(channel, JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } }));
    return true;
  }

  private usd(s: SymState, lots: number): number {
    return Number(s.inst.qty(lots));
  }

  private snapshot(s: SymState): string {
    const side = (m: Map<number, number>, dir: 1 | -1) =>
      [...m.keys()].sort((a, b) => dir * (b - a)).map((t) => ['new', Number(s.inst.price(t)), this.usd(s, m.get(t)!)]);
    const channel = `book.${s.vs}.100ms`;
    const data = { type: 'snapshot', timestamp: Date.now(), instrument_name: s.vs, change_id: s.changeId, bids: side(s.inst.bids, 1), asks: side(s.inst.asks, -1) };
    return JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } });
  }

  private changes(s: SymState, ch: Map<number, number>, held: Set<number>): [string, number, number][] {
    return classifyLevels(held, ch).map((c) => [c.action, Number(s.inst.price(c.tick)), this.usd(s, c.lots)]);
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const s = this.syms.get(st.inst.spec.venueSymbol);
      if (!s || st.inst !== s.inst) continue;
      const symbol = s.inst.spec.symbol;
      if (st.bids.size + st.asks.size > 0) {
        const prev = s.changeId;
        s.changeId += 1 + this.rng.int(6);
        const data = { type: 'change', timestamp: st.ts, prev_change_id: prev, instrument_name: s.vs, change_id: s.changeId, bids: this.changes(s, st.bids, s.bids), asks: this.changes(s, st.asks, s.asks) };
        if (s.gapArmed) s.gapArmed = false; // lost on the wire
        else if (this.notify(`book.${s.vs}.100ms`, data)) this.counters.bookChanges[symbol]++;
      }
      const t = st.ticker;
      if (st.trades.length > 0) {
        const liq = new Map(st.liquidations.map((l) => [l.tradeId, l]));
        const rows = st.trades.map((tr) => {
          const amount = this.usd(s, tr.lots);
          const l = liq.get(tr.id);
          // A liquidation hits the book as the taker; every fourth one also liquidated the maker.
          const flag = l ? (l.id % 4 === 0 ? 'MT' : 'T') : undefined;
          s.lastPrice = Number(s.inst.price(tr.priceTicks));
          return {
            trade_seq: s.tradeSeq++,
            trade_id: String(tr.id),
            timestamp: st.ts,
            tick_direction: 0,
            price: s.lastPrice,
            mark_price: t ? Number(t.mark.toFixed(2)) : s.lastPrice,
            index_price: t ? Number(t.index.toFixed(2)) : s.lastPrice,
            instrument_name: s.vs,
            direction: tr.side,
            amount,
            contracts: amount / (s.inst.spec.lot || 1),
            ...(flag ? { liquidation: flag } : {}),
          };
        });
        if (this.notify(`trades.${s.vs}.100ms`, rows)) {
          this.counters.trades[symbol] += rows.length;
          for (const r of rows) if (r.liquidation) this.counters.liquidations[symbol] += r.liquidation.length;
        }
      }
      if (t) {
        this.notify(`ticker.${s.vs}.100ms`, {
          timestamp: st.ts,
          instrument_name: s.vs,
          state: 'open',
          mark_price: Number(t.mark.toFixed(2)),
          index_price: Number(t.index.toFixed(2)),
          last_price: s.lastPrice,
          best_bid_price: Number(s.inst.price(s.inst.bestBid)),
          best_ask_price: Number(s.inst.price(s.inst.bestAsk)),
          open_interest: this.usd(s, t.openInterestLots),
          current_funding: Number((t.fundingRate / 8).toFixed(8)),
          funding_8h: Number(t.fundingRate.toFixed(8)),
          stats: { volume: 0, price_change: 0 },
        });
      }
    }
  }
}

export function deribitFrontEnd(market: Market, seed?: number): DeribitSimVenue {
  return new DeribitSimVenue(market, seed);
}
