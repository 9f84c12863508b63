import type { Level } from '@depthwatch/schemas';
import type { Channel, LiquidationMsg, ParseContext, StreamSpec, TradeMsg, VenueAdapter, VenueMessage } from '../sync/adapter.ts';
import { VenueParseError } from '../sync/adapter.ts';
import { findMarket, type MarketInfo } from '../metadata/index.ts';
import { ms, num, obj, optNum, str, toBase } from './util.ts';

/**
 * Deribit v2 (JSON-RPC over WebSocket). Books: `book.{inst}.100ms` (the fastest public interval:
 * `raw` needs an authenticated session) sends a snapshot after subscribing, then changes chained by
 * `prev_change_id` == previous `change_id`; a broken chain resubscribes that instrument only.
 * Trades: `trades.{inst}.100ms`, `direction` is the taker's; a `liquidation` field (`M`, `T`, `MT`)
 * marks liquidation fills, which are also published as Liquidation events (every liquidation fill
 * is flagged, so they are complete). Ticker: mark, index, last, `funding_8h`, `open_interest`.
 * Keepalive: `public/set_heartbeat`, then every `test_request` is answered with `public/test`.
 *
 * Units: perpetual and future amounts (book, trades, open interest) are USD; base = USD / price.
 * Options and linear USDC instruments are already in the base coin.
 */

export const DERIBIT_HEARTBEAT_S = 15;
/** Channels per `public/subscribe` call (no documented cap; kept modest because subscribes are rate-limited). */
const SUBSCRIBE_BATCH = 100;
/** Request ids: 1 heartbeat, 2.. subscribes, 900 public/test, 1000+ resubscribes. */
const TEST_ID = 900;

const CHANNEL_OF: Record<string, Channel> = { book: 'book', trades: 'trade', ticker: 'ticker' };
const CHANNEL_RE = /"channel":"(book|trades|ticker)\.([^".]+)\./;

function rpc(id: number, method: string, params: object): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method, params });
}

/** Amounts of perpetuals and futures are USD (inverse); everything else is in coin. */
function usdAmounts(m: MarketInfo): boolean {
  return m.inverse && m.type !== 'option';
}

/** Deribit amounts are USD (not contracts) on perpetuals and futures: base = USD / price. */
function baseOf(m: MarketInfo, amount: number, price: number): number {
  return usdAmounts(m) ? toBase(amount, 1, true, price) : amount;
}

export function deribitVenueSymbol(symbol: string): string {
  const known = findMarket('deribit', symbol)?.venueSymbol;
  if (known) return known;
  // BTC/USD:BTC → BTC-PERPETUAL; SOL/USDC:USDC → SOL_USDC-PERPETUAL.
  const [pair, settle] = symbol.split(':');
  const [base, quote] = pair.split('/');
  return settle === base ? `${base}-PERPETUAL` : `${base}_${quote}-PERPETUAL`;
}

function bookLevels(raw: unknown, what: string, symbol: string, m: MarketInfo): Level[] {
  if (!Array.isArray(raw)) throw new VenueParseError(`${what}: not an array`, symbol, 'book');
  const out: Level[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const lv = raw[i] as unknown;
    if (!Array.isArray(lv) || lv.length < 3) throw new VenueParseError(`${what}[${i}]: not [action, price, amount]`, symbol, 'book');
    const action = lv[0];
    const price = num(lv[1], `${what}[${i}].price`, symbol, 'book');
    const amount = num(lv[2], `${what}[${i}].amount`, symbol, 'book');
    if (price <= 0 || amount < 0) throw new VenueParseError(`${what}[${i}]: negative`, symbol, 'book');
    if (action === 'delete') out[i] = [price, 0];
    else if (action === 'new' || action === 'change') out[i] = [price, baseOf(m, amount, price)];
    else throw new VenueParseError(`${what}[${i}]: unknown action ${JSON.stringify(action)}`, symbol, 'book');
  }
  return out;
}

function parseBook(symbol: string, d: Record<string, unknown>, m: MarketInfo): VenueMessage {
  const ts = ms(d.timestamp, 'timestamp', symbol, 'book');
  const bids = bookLevels(d.bids, 'bids', symbol, m);
  const asks = bookLevels(d.asks, 'asks', symbol, m);
  const changeId = num(d.change_id, 'change_id', symbol, 'book');
  if (d.type === 'snapshot') return { kind: 'book_snapshot', symbol, ts, bids, asks, id: changeId };
  if (d.type !== 'change') throw new VenueParseError(`book type ${JSON.stringify(d.type)}`, symbol, 'book');
  return { kind: 'book_diff', symbol, ts, bids, asks, first: changeId, last: changeId, prev: num(d.prev_change_id, 'prev_change_id', symbol, 'book') };
}

/**
 * The position a liquidation fill closed. The taker's side is `direction`, the maker's the opposite;
 * a liquidated long is closed by a sell. `T`: taker liquidated, `M`: maker, `MT`: both.
 */
export function liquidatedPositions(flag: string, direction: 'buy' | 'sell'): { who: 'M' | 'T'; position: 'long' | 'short' }[] {
  const out: { who: 'M' | 'T'; position: 'long' | 'short' }[] = [];
  if (flag.includes('T')) out.push({ who: 'T', position: direction === 'sell' ? 'long' : 'short' });
  if (flag.includes('M')) out.push({ who: 'M', position: direction === 'buy' ? 'long' : 'short' });
  return out;
}

function parseTrades(symbol: string, data: unknown, m: MarketInfo): VenueMessage[] {
  if (!Array.isArray(data)) throw new VenueParseError('trades: data not an array', symbol, 'trade');
  const out: VenueMessage[] = [];
  for (const raw of data) {
    const t = obj(raw, 'trade');
    const price = num(t.price, 'price', symbol, 'trade');
    const amount = num(t.amount, 'amount', symbol, 'trade');
    const direction = t.direction;
    if (direction !== 'buy' && direction !== 'sell') throw new VenueParseError(`direction ${JSON.stringify(direction)}`, symbol, 'trade');
    const ts = ms(t.timestamp, 'timestamp', symbol, 'trade');
    const id = str(t.trade_id, 'trade_id', symbol, 'trade');
    const flag = typeof t.liquidation === 'string' ? t.liquidation : '';
    const base = baseOf(m, amount, price);
    const trade: TradeMsg = { kind: 'trade', symbol, ts, id, price, amount: base, side: direction, liquidation: flag.length > 0 };
    out.push(trade);
    for (const { who, position } of liquidatedPositions(flag, direction)) {
      const liq: LiquidationMsg = {
        kind: 'liquidation',
        symbol,
        ts,
        id: `${id}-${who}`,
        liquidatedPosition: position,
        price,
        amount: base,
        notional: usdAmounts(m) ? amount : price * base,
        // Every liquidation fill carries the flag on the public trade stream.
        completeness: 'complete',
      };
      out.push(liq);
    }
  }
  return out;
}

function parseTicker(symbol: string, d: Record<string, unknown>, m: MarketInfo): VenueMessage {
  const mark = optNum(d.mark_price, 'mark_price', symbol, 'ticker');
  const oi = optNum(d.open_interest, 'open_interest', symbol, 'ticker');
  return {
    kind: 'ticker',
    symbol,
    ts: ms(d.timestamp, 'timestamp', symbol, 'ticker'),
    markPrice: mark,
    indexPrice: optNum(d.index_price, 'index_price', symbol, 'ticker'),
    lastPrice: optNum(d.last_price, 'last_price', symbol, 'ticker'),
    // Funding accrues continuously; funding_8h is the rate over 8 hours (perpetuals only).
    fundingRate: m.type === 'swap' ? optNum(d.funding_8h, 'funding_8h', symbol, 'ticker') : null,
    nextFundingTime: null,
    // USD for perpetuals/futures: valued at the mark price.
    openInterest: oi === null ? null : usdAmounts(m) ? (mark ? toBase(oi, 1, true, mark) : null) : oi,
  };
}

export function parseDeribit(text: string, ctx: ParseContext): VenueMessage[] {
  const msg = obj(JSON.parse(text), 'frame');
  if (msg.method === 'subscription') {
    const params = obj(msg.params, 'params');
    const channel = str(params.channel, 'params.channel');
    const [kind, inst] = channel.split('.');
    const symbol = ctx.symbolOf(inst);
    if (!symbol) return [];
    const m = ctx.market(symbol);
    switch (kind) {
      case 'book':
        return [parseBook(symbol, obj(params.data, 'book data'), m)];
      case 'trades':
        return parseTrades(symbol, params.data, m);
      case 'ticker':
        return [parseTicker(symbol, obj(params.data, 'ticker data'), m)];
      default:
        return [{ kind: 'control', action: 'ignore', detail: channel }];
    }
  }
  if (msg.method === 'heartbeat') {
    const type = obj(msg.params, 'params').type;
    if (type === 'test_request') return [{ kind: 'reply', text: rpc(TEST_ID, 'public/test', {}) }];
    return [{ kind: 'control', action: 'ignore', detail: 'heartbeat' }];
  }
  if ('error' in msg) return [{ kind: 'error', symbol: null, channel: null, reason: JSON.stringify(msg.error) }];
  return [{ kind: 'control', action: 'ignore', detail: 'response' }];
}

export const deribit: VenueAdapter = {
  venue: 'deribit',
  defaultUrls: { rest: 'https://www.deribit.com', ws: 'wss://www.deribit.com' },
  defaultSymbols: ['BTC/USD:BTC', 'ETH/USD:ETH'],
  maxStreamsPerConnection: 500,
  // Book and ticker at 100 ms change constantly on the perpetuals; trades may pause.
  staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: 15_000 },
  // The server sends a heartbeat or test_request every DERIBIT_HEARTBEAT_S; more than two missed is a dead socket.
  heartbeat: { silenceTimeoutMs: (DERIBIT_HEARTBEAT_S * 2 + 5) * 1000 },
  sync: {
    bootstrap: 'in-band',
    depthLimit: 0,
    next: (last, d) => (d.prev === last ? 'apply' : 'gap'),
  },
  toVenueSymbol: deribitVenueSymbol,
  streams(symbol, venueSymbol): StreamSpec[] {
    // Liquidations ride on the trades channel (the `liquidation` flag); there is no separate subscription.
    return [
      { symbol, channel: 'book', name: `book.${venueSymbol}.100ms`, route: '/ws/api/v2' },
      { symbol, channel: 'trade', name: `trades.${venueSymbol}.100ms`, route: '/ws/api/v2' },
      { symbol, channel: 'ticker', name: `ticker.${venueSymbol}.100ms`, route: '/ws/api/v2' },
    ];
  },
  connectUrl: (wsBase, route) => `${wsBase.replace(/\/+$/, '')}${route}`,
  onOpen(_route, streams) {
    const out = [rpc(1, 'public/set_heartbeat', { interval: DERIBIT_HEARTBEAT_S })];
    for (let i = 0; i < streams.length; i += SUBSCRIBE_BATCH) {
      out.push(rpc(2 + i / SUBSCRIBE_BATCH, 'public/subscribe', { channels: streams.slice(i, i + SUBSCRIBE_BATCH).map((s) => s.name) }));
    }
    return out;
  },
  resubscribe: (stream) => [rpc(1000, 'public/unsubscribe', { channels: [stream.name] }), rpc(1001, 'public/subscribe', { channels: [stream.name] })],
  parse: parseDeribit,
  identify(text) {
    const m = CHANNEL_RE.exec(text);
    return m ? { venueSymbol: m[2], channel: CHANNEL_OF[m[1]] } : null;
  },
};
