import type { Level } from '@depthwatch/schemas';
import { VenueParseError, type Channel, type StreamSpec, type VenueAdapter, type VenueMessage, type ParseContext } from '../sync/adapter.ts';
import { findMarket } from '../metadata/index.ts';
import { isoMs, num, obj, str } from './util.ts';

/**
 * Coinbase Advanced Trade market data (`wss://advanced-trade-ws.coinbase.com`), spot only.
 *
 * - `level2` (messages on channel `l2_data`): an in-band `snapshot` event (the full book) after
 *   subscribing, then `update` events with absolute `new_quantity` per `price_level` ("0" deletes;
 *   deletes of levels never published are common and ignored). Side `bid` / `offer` (= ask).
 * - No per-product sequence: `sequence_num` counts every message on the connection (heartbeats and
 *   subscription acks included), so parse() reports it as `conn_seq` and the framework resyncs
 *   every book on that socket on a gap. Keep few products per socket to limit the blast radius.
 * - `market_trades`: `side` is the MAKER side (NautilusTrader's Advanced Trade adapter and Coinbase
 *   Exchange's `match` semantics; venues.md §6 lists it as unconfirmed), so the aggressor is the
 *   opposite. The `snapshot` event on subscribe is recent history, not live trades: it is skipped,
 *   so a resubscribe or reconnect never republishes old trades.
 * - `heartbeats` is subscribed on every socket: without it channels with no updates are closed
 *   after 60–90 s. Heartbeats arrive every second, so a silent socket is dead.
 * - One channel per subscribe message; unauthenticated clients may send 8 messages/s per IP, so a
 *   socket carries at most 4 products (a connection-wide gap resubscribes each: 2 messages apiece).
 */

const WS_URL = 'wss://advanced-trade-ws.coinbase.com';

/** Channel names we subscribe → our channel. */
const SUBSCRIBED: Record<string, Channel> = { level2: 'book', market_trades: 'trade' };

export function coinbaseVenueSymbol(symbol: string): string {
  return findMarket('coinbase', symbol)?.venueSymbol ?? symbol.split(':')[0].replace('/', '-');
}

function subscribe(type: 'subscribe' | 'unsubscribe', channel: string, productIds: readonly string[]): string {
  return JSON.stringify({ type, product_ids: productIds, channel });
}

export const coinbase: VenueAdapter = {
  venue: 'coinbase',
  defaultUrls: { rest: 'https://api.coinbase.com', ws: WS_URL },
  defaultSymbols: ['BTC/USD', 'ETH/USD', 'SOL/USD'],
  maxStreamsPerConnection: 8,
  // Trades pause on quiet products; the books of the default products change many times a second.
  staleAfterMs: { book: 60_000, trade: Infinity, liquidation: Infinity, ticker: Infinity },
  heartbeat: { silenceTimeoutMs: 15_000 },
  sync: {
    bootstrap: 'in-band',
    depthLimit: 0,
    // Gaps are connection-wide (conn_seq); within a product every update applies.
    next: () => 'apply',
  },
  toVenueSymbol: coinbaseVenueSymbol,
  streams(symbol, venueSymbol): StreamSpec[] {
    return [
      { symbol, channel: 'book', name: `level2:${venueSymbol}`, route: '/' },
      { symbol, channel: 'trade', name: `market_trades:${venueSymbol}`, route: '/' },
    ];
  },
  connectUrl: (wsBase) => wsBase.replace(/\/+$/, ''),
  onOpen(_route, streams) {
    const byChannel = new Map<string, string[]>();
    for (const s of streams) {
      const [channel, product] = s.name.split(':');
      byChannel.set(channel, [...(byChannel.get(channel) ?? []), product]);
    }
    // Heartbeats first: they keep the other subscriptions open.
    return [JSON.stringify({ type: 'subscribe', channel: 'heartbeats' }), ...[...byChannel].map(([channel, ids]) => subscribe('subscribe', channel, ids))];
  },
  resubscribe(stream) {
    const [channel, product] = stream.name.split(':');
    return [subscribe('unsubscribe', channel, [product]), subscribe('subscribe', channel, [product])];
  },
  parse: parseCoinbase,
  identify(text) {
    const ch = /"channel":"(l2_data|market_trades)"/.exec(text);
    const product = /"product_id":"([A-Z0-9]+-[A-Z0-9]+)"/.exec(text);
    if (!ch || !product) return null;
    return { venueSymbol: product[1], channel: ch[1] === 'l2_data' ? 'book' : 'trade' };
  },
};

export function parseCoinbase(text: string, ctx: ParseContext): VenueMessage[] {
  const msg = obj(JSON.parse(text), 'frame');
  const out: VenueMessage[] = [];
  // First, so a gap invalidates the books before this frame's own events are applied.
  if (msg.sequence_num !== undefined) out.push({ kind: 'conn_seq', seq: num(msg.sequence_num, 'sequence_num') });
  if (msg.type === 'error') {
    out.push({ kind: 'error', symbol: null, channel: null, reason: String(msg.message ?? msg.reason ?? 'error') });
    return out;
  }
  const events = msg.events === undefined ? [] : msg.events;
  if (!Array.isArray(events)) throw new VenueParseError('events: not an array');
  switch (msg.channel) {
    case 'l2_data':
      for (const e of events) {
        const m = parseBookEvent(obj(e, 'l2_data event'), msg.timestamp, ctx);
        if (m) out.push(m);
      }
      return out;
    case 'market_trades':
      for (const e of events) out.push(...parseTradeEvent(obj(e, 'market_trades event'), ctx));
      return out;
    default:
      // heartbeats, subscriptions acks, anything else: only the sequence matters.
      out.push({ kind: 'control', action: 'ignore', detail: String(msg.channel) });
      return out;
  }
}

function parseBookEvent(e: Record<string, unknown>, envelopeTs: unknown, ctx: ParseContext): VenueMessage | null {
  const symbol = ctx.symbolOf(str(e.product_id, 'product_id', null, 'book'));
  if (!symbol) return null;
  if (!Array.isArray(e.updates)) throw new VenueParseError('updates: not an array', symbol, 'book');
  const bids: Level[] = [];
  const asks: Level[] = [];
  let eventTs = 0;
  for (let i = 0; i < e.updates.length; i++) {
    const u = obj(e.updates[i], 'update');
    const p = num(u.price_level, `updates[${i}].price_level`, symbol, 'book');
    const q = num(u.new_quantity, `updates[${i}].new_quantity`, symbol, 'book');
    if (p <= 0 || q < 0) throw new VenueParseError(`updates[${i}]: negative`, symbol, 'book');
    if (u.side === 'bid') bids.push([p, q]);
    else if (u.side === 'offer') asks.push([p, q]);
    else throw new VenueParseError(`updates[${i}].side: ${JSON.stringify(u.side)}`, symbol, 'book');
    // Update events carry the matching-engine time per level; snapshot levels carry old times.
    if (e.type === 'update' && u.event_time !== undefined) eventTs = Math.max(eventTs, isoMs(u.event_time, 'event_time', symbol, 'book'));
  }
  const ts = eventTs || isoMs(envelopeTs, 'timestamp', symbol, 'book');
  if (e.type === 'snapshot') return { kind: 'book_snapshot', symbol, ts, bids, asks, id: null };
  if (e.type === 'update') return { kind: 'book_diff', symbol, ts, bids, asks, first: null, last: null, prev: null };
  throw new VenueParseError(`l2_data event type ${JSON.stringify(e.type)}`, symbol, 'book');
}

function parseTradeEvent(e: Record<string, unknown>, ctx: ParseContext): VenueMessage[] {
  if (e.type === 'snapshot') return [];
  if (!Array.isArray(e.trades)) throw new VenueParseError('trades: not an array', null, 'trade');
  const out: VenueMessage[] = [];
  for (const raw of e.trades) {
    const t = obj(raw, 'trade');
    const symbol = ctx.symbolOf(str(t.product_id, 'product_id', null, 'trade'));
    if (!symbol) continue;
    const makerSide = t.side;
    if (makerSide !== 'BUY' && makerSide !== 'SELL') throw new VenueParseError(`side: ${JSON.stringify(makerSide)}`, symbol, 'trade');
    out.push({
      kind: 'trade',
      symbol,
      ts: isoMs(t.time, 'time', symbol, 'trade'),
      id: str(String(t.trade_id ?? ''), 'trade_id', symbol, 'trade'),
      price: num(t.price, 'price', symbol, 'trade'),
      amount: num(t.size, 'size', symbol, 'trade'),
      // Maker side reported: a resting SELL was hit by a buyer.
      side: makerSide === 'SELL' ? 'buy' : 'sell',
      liquidation: false,
    });
  }
  return out;
}
