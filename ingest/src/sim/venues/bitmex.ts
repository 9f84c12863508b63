import { FrontEnd, pickSymbols, type SimClient, type SimVenue } from '../front-end.ts';
import type { Instrument, InstrumentStep, Market, SimTrade } from '../market.ts';
import { Prng } from '../prng.ts';
import { classifyLevels } from '../wire.ts';
import { marketInfo, type MarketInfo } from '../../metadata/index.ts';
import { fromBase } from '../../venues/util.ts';

/**
 * BitMEX realtime front end on `/realtime`: a welcome on connect, `{"op":"subscribe","args":[…]}`
 * acked per topic, then a `partial` per table and topic; `orderBookL2` insert/update/delete keyed
 * by (id, side) with one message per action (no sequence numbers, no checksum), `trade` inserts
 * (the partial carries recent trades), `liquidation` orders (insert, a partial fill as a
 * `leavesQty` update, delete), `instrument` updates with only the changed fields. Text `ping` →
 * `pong`. Sizes are contracts (inverse XBTUSD: 1 USD each). Venue faults: legacy rows (update and
 * delete rows carry only ids, as before 2023), rows before the partial, an update for an unknown id.
 */

const ROUTE = '/realtime';
const RECENT_TRADES = 50;

interface SymState {
  inst: Instrument;
  vs: string;
  m: MarketInfo;
  idBase: number;
  bids: Set<number>;
  asks: Set<number>;
  recent: object[];
  orderSeq: number;
  instrument: Record<string, number | string>;
  unknownIdArmed: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

export class BitmexSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, bookMessages: {} as Record<string, number> };
  private readonly syms = new Map<string, SymState>();
  private legacy = false;
  private strayRows = false;

  constructor(
    private readonly market: Market,
    seed = 1,
  ) {
    const rng = Prng.derive(seed, 'fe:bitmex');
    let index = 10 + rng.int(50);
    for (const inst of market.instruments.values()) {
      if (inst.spec.venue !== 'bitmex') continue;
      this.syms.set(inst.spec.venueSymbol, {
        inst,
        vs: inst.spec.venueSymbol,
        m: marketInfo('bitmex', inst.spec.symbol, inst.spec.venueSymbol),
        // BitMEX ids fall as prices rise, per instrument index.
        idBase: 100_000_000 * index++,
        bids: new Set(inst.bids.keys()),
        asks: new Set(inst.asks.keys()),
        recent: [],
        orderSeq: 1,
        instrument: {},
        unknownIdArmed: false,
      });
      for (const c of Object.values(this.counters)) c[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd({
      rest: () => null,
      accept: (path) => (path === ROUTE ? [] : null),
      onConnect: () => [JSON.stringify({ info: 'Welcome to the BitMEX Realtime API.', version: '2.0.0', timestamp: iso(Date.now()), docs: 'https://www.bitmex.com/app/wsAPI', limit: { remaining: 39 } })],
      onClientMessage: (c, text) => this.request(c, text),
    });
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
  }

  close(): Promise<void> {
    return this.fe.close();
  }

  faults() {
    return {
      ...this.fe.baseFaults('orderBookL2'),
      /** Update and delete rows carry only (id, side), as recorded in 2021: clients must keep an id → price map. */
      legacyRows: (on = true) => (this.legacy = on),
      /** After the next orderBookL2 subscribe, rows precede the partial (clients must drop them). */
      rowsBeforePartial: () => (this.strayRows = true),
      /** The next book message of the symbol(s) is preceded by an update for an id nobody holds (corruption). */
      unknownIdUpdate: (symbol?: string) => pickSymbols(this.syms.values(), symbol).forEach((s) => (s.unknownIdArmed = true)),
    };
  }

  // ---- requests

  private request(c: SimClient, text: string): string[] {
    if (text === 'ping') return ['pong'];
    let req: { op?: unknown; args?: unknown };
    try {
      req = JSON.parse(text);
    } catch {
      return [JSON.stringify({ status: 400, error: 'Unable to parse request.', meta: {}, request: text })];
    }
    const args = Array.isArray(req.args) ? req.args.filter((a): a is string => typeof a === 'string') : [];
    if (req.op === 'unsubscribe') {
      return args.map((a) => {
        c.streams.delete(a);
        return JSON.stringify({ success: true, unsubscribe: a, request: req });
      });
    }
    if (req.op !== 'subscribe') return [JSON.stringify({ status: 400, error: `Unknown or unsupported operation: ${String(req.op)}`, meta: {}, request: req })];
    for (const a of args) {
      const [table, vs] = a.split(':');
      const s = this.syms.get(vs ?? '');
      if (!s || !['orderBookL2', 'trade', 'liquidation', 'instrument'].includes(table)) {
        this.fe.sendTo(c, JSON.stringify({ status: 400, error: `Unknown table: ${table}`, meta: {}, request: { op: 'subscribe', args: [a] } }));
        continue;
      }
      this.fe.sendTo(c, JSON.stringify({ success: true, subscribe: a, request: req }));
      if (table === 'orderBookL2' && this.strayRows) {
        this.strayRows = false;
        this.fe.sendTo(c, JSON.stringify({ table, action: 'update', data: [{ symbol: vs, id: s.idBase - 1, side: 'Sell', size: 1 }] }), a);
      }
      this.fe.sendTo(c, JSON.stringify({ table, action: 'partial', keys: table === 'orderBookL2' ? ['symbol', 'id', 'side'] : [], filter: { symbol: vs }, data: this.partialRows(table, s) }), a);
      c.streams.add(a);
    }
    return [];
  }

  private partialRows(table: string, s: SymState): object[] {
    if (table === 'orderBookL2') {
      const side = (m: Map<number, number>, name: 'Buy' | 'Sell') => [...m].map(([t, lots]) => ({ symbol: s.vs, id: this.id(s, t), side: name, size: this.contracts(s, lots), price: Number(s.inst.price(t)) }));
      return [...side(s.inst.asks, 'Sell'), ...side(s.inst.bids, 'Buy')];
    }
    if (table === 'trade') return s.recent;
    if (table === 'instrument') return [{ symbol: s.vs, ...s.instrument }];
    return []; // liquidation orders never rest across steps here
  }

  // ---- rendering

  private id(s: SymState, tick: number): number {
    return s.idBase - tick;
  }

  /** Market lots → contracts (inverse: the market's quantity is USD, 1 USD per contract). */
  private contracts(s: SymState, lots: number): number {
    const q = Number(s.inst.qty(lots));
    return s.m.inverse ? q / s.m.contractSize : fromBase(q, s.m.contractSize);
  }

  private send(s: SymState, table: string, action: string, data: object[]): boolean {
    const topic = `${table}:${s.vs}`;
    if (data.length === 0 || !this.fe.hasSubscribers(topic)) return false;
    this.fe.broadcast(topic, JSON.stringify({ table, action, data }));
    return true;
  }

  private bookRows(s: SymState, ts: number, side: 'Buy' | 'Sell', ch: Map<number, number>, out: Record<string, object[]>): void {
    for (const c of classifyLevels(side === 'Buy' ? s.bids : s.asks, ch)) {
      const row: Record<string, unknown> = { symbol: s.vs, id: this.id(s, c.tick), side };
      if (c.action !== 'delete') row.size = this.contracts(s, c.lots);
      if (c.action === 'new' || !this.legacy) {
        row.price = Number(s.inst.price(c.tick));
        row.timestamp = iso(ts);
      }
      out[c.action === 'new' ? 'insert' : c.action === 'change' ? 'update' : 'delete'].push(row);
    }
  }

  private tradeRow(s: SymState, ts: number, tr: SimTrade): object {
    const size = this.contracts(s, tr.lots);
    const price = Number(s.inst.price(tr.priceTicks));
    return { timestamp: iso(ts), symbol: s.vs, side: tr.side === 'buy' ? 'Buy' : 'Sell', size, price, tickDirection: 'ZeroPlusTick', trdMatchID: `00000000-0000-4000-8000-${String(tr.id).padStart(12, '0')}`, grossValue: 0, homeNotional: 0, foreignNotional: 0 };
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const s = this.syms.get(st.inst.spec.venueSymbol);
      if (!s || st.inst !== s.inst) continue;
      const symbol = s.inst.spec.symbol;
      const rows: Record<string, object[]> = { delete: [], update: [], insert: [] };
      this.bookRows(s, st.ts, 'Buy', st.bids, rows);
      this.bookRows(s, st.ts, 'Sell', st.asks, rows);
      if (s.unknownIdArmed && rows.update.length + rows.delete.length + rows.insert.length > 0) {
        s.unknownIdArmed = false;
        this.send(s, 'orderBookL2', 'update', [{ symbol: s.vs, id: s.idBase + 7, side: 'Buy', size: 5 }]);
      }
      // A price can leave one side and join the other within a step: deletes first.
      for (const action of ['delete', 'update', 'insert']) if (this.send(s, 'orderBookL2', action, rows[action])) this.counters.bookMessages[symbol]++;

      const trades = st.trades.map((tr) => this.tradeRow(s, st.ts, tr));
      s.recent = [...s.recent, ...trades].slice(-RECENT_TRADES);
      if (this.send(s, 'trade', 'insert', trades)) this.counters.trades[symbol] += trades.length;

      for (const l of st.liquidations) {
        // The engine's liquidation order: enters with the position's size, fills in two parts, completes.
        const orderID = `${s.vs}-liq-${s.orderSeq++}`;
        const order = { orderID, symbol: s.vs, side: l.position === 'long' ? 'Sell' : 'Buy', price: Number(s.inst.price(l.priceTicks)), leavesQty: this.contracts(s, l.lots) };
        const firstFill = this.contracts(s, Math.ceil(l.lots / 2));
        const subscribed = this.send(s, 'liquidation', 'insert', [order]);
        this.send(s, 'liquidation', 'update', [{ orderID, symbol: s.vs, leavesQty: order.leavesQty - firstFill }]);
        this.send(s, 'liquidation', 'delete', [{ orderID, symbol: s.vs }]);
        if (subscribed) this.counters.liquidations[symbol] += order.leavesQty - firstFill > 0 ? 2 : 1;
      }

      if (st.ticker) {
        const t = st.ticker;
        const next: Record<string, number | string> = {
          markPrice: Number(t.mark.toFixed(2)),
          indicativeSettlePrice: Number(t.index.toFixed(2)),
          lastPrice: trades.length ? (trades[trades.length - 1] as { price: number }).price : (s.instrument.lastPrice ?? Number(s.inst.price(s.inst.bestBid))),
          fundingRate: Number(t.fundingRate.toFixed(6)),
          fundingTimestamp: iso(t.nextFundingTime),
          openInterest: this.contracts(s, t.openInterestLots),
        };
        // Updates carry only what changed (plus the time).
        const changed = Object.fromEntries(Object.entries(next).filter(([k, v]) => s.instrument[k] !== v));
        s.instrument = { ...next, timestamp: iso(st.ts) };
        if (Object.keys(changed).length) this.send(s, 'instrument', 'update', [{ symbol: s.vs, ...changed, timestamp: iso(st.ts) }]);
      }
    }
  }
}

export function bitmexFrontEnd(market: Market, seed?: number): BitmexSimVenue {
  return new BitmexSimVenue(market, seed);
}
