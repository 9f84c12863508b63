import { FrontEnd, type SimClient, type SimVenue } from '../front-end.ts';
import type { Instrument, InstrumentStep, Market } from '../market.ts';
import { sortedTicks } from '../wire.ts';
import { HYPERLIQUID_DEPTH } from '../../venues/hyperliquid.ts';

/**
 * Hyperliquid front end on `/ws`: `{"method":"subscribe","subscription":{type, coin}}` answered
 * with `subscriptionResponse`; `l2Book` is a complete 20-level book in every message (sent on
 * subscribe and whenever the top 20 changed), `trades` batches (`side` B/A = taker buy/sell),
 * `activeAssetCtx` (hourly funding, OI in coin, oracle and mark price). `{"method":"ping"}` →
 * `{"channel":"pong"}`; a client that sent nothing for 60 s is disconnected (the idle limit is a
 * fault knob so tests can shorten it). No liquidation channel exists.
 */

const ROUTE = '/ws';
const TYPES = new Set(['l2Book', 'trades', 'activeAssetCtx']);

interface CoinState {
  inst: Instrument;
  coin: string;
  lastBook: string;
}

export class HyperliquidSimVenue implements SimVenue {
  readonly fe: FrontEnd;
  readonly counters = { trades: {} as Record<string, number>, liquidations: {} as Record<string, number>, books: {} as Record<string, number>, pings: 0, idleCloses: 0 };
  private readonly coins = new Map<string, CoinState>();
  private readonly lastRx = new Map<SimClient, number>();
  private idleMs = 60_000;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly market: Market) {
    for (const inst of market.instruments.values()) {
      if (inst.spec.venue !== 'hyperliquid') continue;
      this.coins.set(inst.spec.venueSymbol, { inst, coin: inst.spec.venueSymbol, lastBook: '' });
      this.counters.trades[inst.spec.symbol] = 0;
      this.counters.liquidations[inst.spec.symbol] = 0;
      this.counters.books[inst.spec.symbol] = 0;
    }
    this.fe = new FrontEnd({
      rest: () => null,
      accept: (path) => (path === ROUTE ? [] : null),
      onConnect: (c) => {
        this.lastRx.set(c, Date.now());
        c.ws.once('close', () => this.lastRx.delete(c));
        return [];
      },
      onClientMessage: (c, text) => this.request(c, text),
    });
  }

  async start(): Promise<void> {
    await this.fe.listen();
    this.fe.follow(this.market, 'step', (steps: InstrumentStep[]) => this.step(steps));
    this.timer = setInterval(() => this.closeIdle(), 50);
    this.timer.unref();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.fe.close();
  }

  faults() {
    return {
      ...this.fe.baseFaults('l2Book'),
      /** Disconnect clients that sent nothing for `ms` (Hyperliquid: 60 s). */
      idleTimeout: (ms: number) => (this.idleMs = ms),
      stats: () => ({ pings: this.counters.pings, idleCloses: this.counters.idleCloses }),
    };
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const [c, t] of this.lastRx) {
      if (now - t <= this.idleMs) continue;
      this.counters.idleCloses++;
      this.lastRx.delete(c);
      c.ws.close(1000, 'idle');
    }
  }

  private request(c: SimClient, text: string): string[] {
    this.lastRx.set(c, Date.now());
    let req: { method?: unknown; subscription?: { type?: unknown; coin?: unknown } };
    try {
      req = JSON.parse(text);
    } catch {
      return [JSON.stringify({ channel: 'error', data: `Error parsing JSON into valid websocket request: ${text}` })];
    }
    if (req.method === 'ping') {
      this.counters.pings++;
      return [JSON.stringify({ channel: 'pong' })];
    }
    const sub = req.subscription ?? {};
    const s = this.coins.get(String(sub.coin));
    if ((req.method !== 'subscribe' && req.method !== 'unsubscribe') || !TYPES.has(String(sub.type)) || !s) {
      return [JSON.stringify({ channel: 'error', data: `Invalid subscription ${JSON.stringify(sub)}` })];
    }
    const stream = `${String(sub.type)}:${s.coin}`;
    this.fe.sendTo(c, JSON.stringify({ channel: 'subscriptionResponse', data: { method: req.method, subscription: sub } }));
    if (req.method === 'unsubscribe') c.streams.delete(stream);
    else {
      c.streams.add(stream);
      if (sub.type === 'l2Book') this.fe.sendTo(c, this.book(s, Date.now()), stream);
    }
    return [];
  }

  private book(s: CoinState, time: number): string {
    const side = (which: 'bid' | 'ask') => {
      const m = which === 'bid' ? s.inst.bids : s.inst.asks;
      return sortedTicks(s.inst, which, HYPERLIQUID_DEPTH).map((t) => ({ px: s.inst.price(t), sz: s.inst.qty(m.get(t)!), n: 1 + (t % 7) }));
    };
    return JSON.stringify({ channel: 'l2Book', data: { coin: s.coin, time, levels: [side('bid'), side('ask')] } });
  }

  private send(stream: string, text: string): boolean {
    if (!this.fe.hasSubscribers(stream)) return false;
    this.fe.broadcast(stream, text);
    return true;
  }

  private step(steps: InstrumentStep[]): void {
    for (const st of steps) {
      const s = this.coins.get(st.inst.spec.venueSymbol);
      if (!s || st.inst !== s.inst) continue;
      const symbol = s.inst.spec.symbol;
      // Only the top 20 is visible: publish when it changed (the time alone does not count).
      const book = this.book(s, st.ts);
      const levels = book.slice(book.indexOf('"levels"'));
      if (levels !== s.lastBook) {
        s.lastBook = levels;
        if (this.send(`l2Book:${s.coin}`, book)) this.counters.books[symbol]++;
      }
      if (st.trades.length) {
        const rows = st.trades.map((tr) => ({ coin: s.coin, side: tr.side === 'buy' ? 'B' : 'A', px: s.inst.price(tr.priceTicks), sz: s.inst.qty(tr.lots), hash: `0x${tr.id.toString(16).padStart(64, '0')}`, time: st.ts, tid: tr.id, users: ['0x0000000000000000000000000000000000000001', '0x0000000000000000000000000000000000000002'] }));
        if (this.send(`trades:${s.coin}`, JSON.stringify({ channel: 'trades', data: rows }))) this.counters.trades[symbol] += rows.length;
      }
      if (st.ticker) {
        const t = st.ticker;
        const px = (x: number) => x.toFixed(s.inst.priceDecimals + 1);
        const ctx = { funding: (t.fundingRate / 8).toFixed(8), openInterest: s.inst.qty(t.openInterestLots), oraclePx: px(t.index), markPx: px(t.mark), midPx: px(((s.inst.bestBid + s.inst.bestAsk) / 2) * s.inst.spec.tick), premium: ((t.mark - t.index) / t.index).toFixed(8), dayNtlVlm: '0.0', prevDayPx: px(t.index), impactPxs: [s.inst.price(s.inst.bestBid), s.inst.price(s.inst.bestAsk)] };
        this.send(`activeAssetCtx:${s.coin}`, JSON.stringify({ channel: 'activeAssetCtx', data: { coin: s.coin, ctx } }));
      }
    }
  }
}

export function hyperliquidFrontEnd(market: Market): HyperliquidSimVenue {
  return new HyperliquidSimVenue(market);
}
