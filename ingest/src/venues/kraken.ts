import type { Level } from '@depthwatch/schemas';
import { VenueParseError, type Channel, type ParseContext, type StreamSpec, type VenueAdapter, type VenueMessage } from '../sync/adapter.ts';
import { crc32 } from '../sync/crc32.ts';
import type { OrderBook } from '../sync/order-book.ts';
import { findMarket, type MarketInfo } from '../metadata/index.ts';
import { decimalsOf, isoMs, num, obj, str } from './util.ts';

/**
 * Kraken spot, WebSocket v2 (`wss://ws.kraken.com/v2`), symbols as `BTC/USD`.
 *
 * - `book` at depth 1000 (the deepest Kraken offers): a snapshot after subscribing, then updates;
 *   no sequence numbers. Every message (snapshot too) carries a CRC32 of the top 10 levels per
 *   side, so the checksum is the only integrity check and a lost update deeper than the top 10 is
 *   undetectable (Kraken: the checksum covers the top 10 "regardless of the subscription depth").
 * - Levels are `{price, qty}` JSON numbers; `qty: 0` deletes. Apply the whole message, then
 *   truncate to the subscribed depth (no delete is sent for levels pushed out), then check.
 * - Checksum: top 10 asks (ascending) then top 10 bids (descending), each price and qty formatted
 *   at the pair's price/qty precision (JSON parsing drops trailing zeros, so they are restored from
 *   the metadata tick/lot decimals), `.` removed, leading zeros stripped; CRC32 unsigned.
 *   A mismatch resubscribes that symbol only (unsubscribe + subscribe with snapshot).
 * - `trade`: `side` is the taker side; subscribed without snapshot so reconnects never replay
 *   history. `ticker`: last price (spot: no mark, index, funding or open interest).
 * - Keepalive: the venue sends `{"channel":"heartbeat"}` about once a second when idle; we also
 *   send the app-level `{"method":"ping"}` and treat 10 s of silence as a dead socket.
 */

export const KRAKEN_BOOK_DEPTH = 1000;
const CHECKSUM_LEVELS = 10;

const CHANNEL: Record<string, Channel> = { book: 'book', trade: 'trade', ticker: 'ticker' };

export function krakenVenueSymbol(symbol: string): string {
  return findMarket('kraken', symbol)?.venueSymbol ?? symbol.split(':')[0];
}

function request(method: 'subscribe' | 'unsubscribe', channel: string, symbols: readonly string[]): string {
  const params: Record<string, unknown> = { channel, symbol: symbols };
  if (channel === 'book') params.depth = KRAKEN_BOOK_DEPTH;
  if (method === 'subscribe') params.snapshot = channel !== 'trade';
  return JSON.stringify({ method, params });
}

/** One level as the checksum wants it: fixed precision, no `.`, no leading zeros. */
function checksumPart(n: number, decimals: number): string {
  return n.toFixed(decimals).replace('.', '').replace(/^0+/, '');
}

/** Kraken v2 book checksum string of the top 10 levels; exported for the simulator and tests. */
export function krakenChecksumString(asks: readonly Level[], bids: readonly Level[], priceDecimals: number, qtyDecimals: number): string {
  let s = '';
  for (const side of [asks, bids]) for (let i = 0; i < Math.min(CHECKSUM_LEVELS, side.length); i++) s += checksumPart(side[i][0], priceDecimals) + checksumPart(side[i][1], qtyDecimals);
  return s;
}

export function krakenChecksum(book: OrderBook, market: MarketInfo): number | null {
  if (market.tickSize === null || market.lotSize === null) return null;
  return crc32(krakenChecksumString(book.sorted('ask', CHECKSUM_LEVELS), book.sorted('bid', CHECKSUM_LEVELS), decimalsOf(market.tickSize), decimalsOf(market.lotSize)));
}

export const kraken: VenueAdapter = {
  venue: 'kraken',
  defaultUrls: { rest: 'https://api.kraken.com', ws: 'wss://ws.kraken.com/v2' },
  defaultSymbols: ['BTC/USD', 'ETH/USD', 'SOL/USD'],
  // Three streams per symbol; depth-1000 snapshots are large, so keep sockets moderate.
  maxStreamsPerConnection: 30,
  staleAfterMs: { book: 60_000, trade: Infinity, liquidation: Infinity, ticker: Infinity },
  heartbeat: { clientPing: { intervalMs: 20_000, frame: '{"method":"ping"}', onlyWhenIdle: false }, silenceTimeoutMs: 10_000 },
  sync: {
    bootstrap: 'in-band',
    depthLimit: KRAKEN_BOOK_DEPTH,
    // No sequence: every update applies; the checksum catches corruption near the touch.
    next: () => 'apply',
  },
  checksum: (book, msg, market) => {
    const want = krakenChecksum(book, market);
    return want === null ? null : want === msg.checksum;
  },
  toVenueSymbol: krakenVenueSymbol,
  streams(symbol, venueSymbol): StreamSpec[] {
    return (['book', 'trade', 'ticker'] as const).map((channel) => ({ symbol, channel, name: `${channel}:${venueSymbol}`, route: '/v2' }));
  },
  connectUrl: (wsBase) => wsBase,
  onOpen(_route, streams) {
    const byChannel = new Map<string, string[]>();
    for (const s of streams) {
      const i = s.name.indexOf(':');
      const channel = s.name.slice(0, i);
      byChannel.set(channel, [...(byChannel.get(channel) ?? []), s.name.slice(i + 1)]);
    }
    return [...byChannel].map(([channel, symbols]) => request('subscribe', channel, symbols));
  },
  resubscribe(stream) {
    const venueSymbol = stream.name.slice(stream.name.indexOf(':') + 1);
    return [request('unsubscribe', 'book', [venueSymbol]), request('subscribe', 'book', [venueSymbol])];
  },
  parse: parseKraken,
  identify(text) {
    const ch = /"channel":"(book|trade|ticker)"/.exec(text);
    const sym = /"symbol":"([A-Z0-9]+\/[A-Z0-9]+)"/.exec(text);
    return ch && sym ? { venueSymbol: sym[1], channel: CHANNEL[ch[1]] } : null;
  },
};

export function parseKraken(text: string, ctx: ParseContext): VenueMessage[] {
  const msg = obj(JSON.parse(text), 'frame');
  if (typeof msg.method === 'string') return parseResponse(msg, ctx);
  switch (msg.channel) {
    case 'book':
      return list(msg.data, 'data').map((d) => parseBook(obj(d, 'book data'), msg.type, ctx)).filter((m): m is VenueMessage => m !== null);
    case 'trade':
      // Snapshots are the last 50 trades (history): never republished.
      if (msg.type === 'snapshot') return [];
      return list(msg.data, 'data').flatMap((d) => parseTrade(obj(d, 'trade'), ctx));
    case 'ticker':
      return list(msg.data, 'data').flatMap((d) => parseTicker(obj(d, 'ticker'), ctx));
    default:
      // heartbeat, status, instrument, anything new.
      return [{ kind: 'control', action: 'ignore', detail: String(msg.channel) }];
  }
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new VenueParseError(`${what}: not an array`);
  return value;
}

/** Acks, pongs and request errors. */
function parseResponse(msg: Record<string, unknown>, ctx: ParseContext): VenueMessage[] {
  if (msg.success !== false) return [{ kind: 'control', action: 'ignore', detail: String(msg.method) }];
  // An unsubscribe that finds nothing is harmless (a resubscribe after the venue already dropped it).
  if (msg.method === 'unsubscribe') return [{ kind: 'control', action: 'ignore', detail: `unsubscribe: ${String(msg.error)}` }];
  // A refused subscribe is reported, not retried: resubscribing would be refused again at wire speed.
  const venueSymbol = typeof msg.symbol === 'string' ? msg.symbol : '';
  return [{ kind: 'error', symbol: null, channel: null, reason: `${String(msg.method)} ${venueSymbol || '?'} (${ctx.symbolOf(venueSymbol) ?? 'not ours'}): ${String(msg.error)}` }];
}

function levelList(raw: unknown, what: string, symbol: string): Level[] {
  if (!Array.isArray(raw)) throw new VenueParseError(`${what}: not an array`, symbol, 'book');
  return raw.map((lv, i) => {
    const o = obj(lv, `${what}[${i}]`);
    const p = num(o.price, `${what}[${i}].price`, symbol, 'book');
    const q = num(o.qty, `${what}[${i}].qty`, symbol, 'book');
    if (p <= 0 || q < 0) throw new VenueParseError(`${what}[${i}]: negative`, symbol, 'book');
    return [p, q] as Level;
  });
}

function parseBook(d: Record<string, unknown>, type: unknown, ctx: ParseContext): VenueMessage | null {
  const symbol = ctx.symbolOf(str(d.symbol, 'symbol', null, 'book'));
  if (!symbol) return null;
  const bids = levelList(d.bids, 'bids', symbol);
  const asks = levelList(d.asks, 'asks', symbol);
  const checksum = d.checksum === undefined ? null : num(d.checksum, 'checksum', symbol, 'book');
  const ts = d.timestamp === undefined ? ctx.recvTs : isoMs(d.timestamp, 'timestamp', symbol, 'book');
  if (type === 'snapshot') return { kind: 'book_snapshot', symbol, ts, bids, asks, id: null, checksum };
  if (type === 'update') return { kind: 'book_diff', symbol, ts, bids, asks, first: null, last: null, prev: null, checksum };
  throw new VenueParseError(`book type ${JSON.stringify(type)}`, symbol, 'book');
}

function parseTrade(t: Record<string, unknown>, ctx: ParseContext): VenueMessage[] {
  const symbol = ctx.symbolOf(str(t.symbol, 'symbol', null, 'trade'));
  if (!symbol) return [];
  if (t.side !== 'buy' && t.side !== 'sell') throw new VenueParseError(`side: ${JSON.stringify(t.side)}`, symbol, 'trade');
  return [
    {
      kind: 'trade',
      symbol,
      ts: isoMs(t.timestamp, 'timestamp', symbol, 'trade'),
      id: String(num(t.trade_id, 'trade_id', symbol, 'trade')),
      price: num(t.price, 'price', symbol, 'trade'),
      amount: num(t.qty, 'qty', symbol, 'trade'),
      side: t.side,
      liquidation: false,
    },
  ];
}

function parseTicker(t: Record<string, unknown>, ctx: ParseContext): VenueMessage[] {
  const symbol = ctx.symbolOf(str(t.symbol, 'symbol', null, 'ticker'));
  if (!symbol) return [];
  return [
    {
      kind: 'ticker',
      symbol,
      ts: t.timestamp === undefined ? ctx.recvTs : isoMs(t.timestamp, 'timestamp', symbol, 'ticker'),
      lastPrice: num(t.last, 'last', symbol, 'ticker'),
    },
  ];
}
