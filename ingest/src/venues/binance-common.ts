import type { Channel, ParseContext, StreamSpec, VenueMessage, BookSnapshotMsg } from '../sync/adapter.ts';
import { VenueParseError } from '../sync/adapter.ts';
import { levels, ms, num, obj, optNum, str } from './util.ts';

/**
 * What Binance spot and USD-M share: message shapes (combined-stream envelope, depthUpdate,
 * aggTrade/trade, forceOrder, markPriceUpdate), stream naming and symbol spelling. The two venue
 * files differ in endpoints, routing, and the gap rule.
 */

export function binanceVenueSymbol(symbol: string, known?: string): string {
  if (known) return known;
  // BTC/USDT:USDT → BTCUSDT; BTC/USDT → BTCUSDT (settle and expiry are not part of the id for perps).
  const [pair] = symbol.split(':');
  return pair.replace('/', '');
}

export function combinedStreamUrl(wsBase: string, path: string, streams: readonly StreamSpec[]): string {
  return `${wsBase.replace(/\/+$/, '')}${path}?streams=${streams.map((s) => s.name).join('/')}`;
}

const STREAM_RE = /"stream":"([a-z0-9_]+)@(depth|aggTrade|trade|forceOrder|markPrice)/;
// Bounded gap between "e" and "s" (they are neighbours): an unbounded lazy `[^{}]*?` made identify()
// quadratic, so a 200 KB frame repeating `"e":"trade"` blocked the event loop for seconds (ingest/src/fuzz).
const RAW_RE = /"e":"(depthUpdate|aggTrade|trade|forceOrder|markPriceUpdate)"[^{}]{0,256}?"s":"([A-Z0-9_]+)"/;
const EVENT_CHANNEL: Record<string, Channel> = {
  depth: 'book',
  depthUpdate: 'book',
  aggTrade: 'trade',
  trade: 'trade',
  forceOrder: 'liquidation',
  markPrice: 'ticker',
  markPriceUpdate: 'ticker',
};

export function identifyBinance(text: string): { venueSymbol: string; channel: Channel } | null {
  const m = STREAM_RE.exec(text);
  if (m) return { venueSymbol: m[1].toUpperCase(), channel: EVENT_CHANNEL[m[2]] };
  const r = RAW_RE.exec(text);
  if (r) return { venueSymbol: r[2], channel: EVENT_CHANNEL[r[1]] };
  return null;
}

export function parseBinanceSnapshot(body: string, symbol: string, ctx: ParseContext): BookSnapshotMsg {
  const msg = obj(JSON.parse(body), 'depth snapshot');
  if (typeof msg.code === 'number') throw new VenueParseError(`snapshot error ${msg.code}: ${String(msg.msg)}`, symbol, 'book');
  const mult = ctx.market(symbol).contractSize;
  return {
    kind: 'book_snapshot',
    symbol,
    // Futures snapshots carry transaction time T; spot snapshots carry no time at all.
    ts: msg.T !== undefined ? ms(msg.T, 'T', symbol, 'book') : msg.E !== undefined ? ms(msg.E, 'E', symbol, 'book') : ctx.recvTs,
    bids: levels(msg.bids, 'bids', symbol, mult),
    asks: levels(msg.asks, 'asks', symbol, mult),
    id: num(msg.lastUpdateId, 'lastUpdateId', symbol, 'book'),
  };
}

export function parseBinance(text: string, ctx: ParseContext): VenueMessage[] {
  const msg = obj(JSON.parse(text), 'frame');
  if ('result' in msg && 'id' in msg) return [{ kind: 'control', action: 'ignore', detail: 'subscribe ack' }];
  if ('error' in msg) return [{ kind: 'error', symbol: null, channel: null, reason: JSON.stringify(msg.error) }];
  const data = 'data' in msg && 'stream' in msg ? msg.data : msg;
  if (Array.isArray(data)) return data.flatMap((d) => parseEvent(obj(d, 'data[]'), ctx));
  return parseEvent(obj(data, 'data'), ctx);
}

function parseEvent(d: Record<string, unknown>, ctx: ParseContext): VenueMessage[] {
  switch (d.e) {
    case 'depthUpdate': {
      const symbol = ctx.symbolOf(str(d.s, 's'));
      if (!symbol) return [];
      const mult = ctx.market(symbol).contractSize;
      return [
        {
          kind: 'book_diff',
          symbol,
          // T (matching-engine time) is what the book reflects; spot only has E.
          ts: ms(d.T ?? d.E, 'E', symbol, 'book'),
          bids: levels(d.b, 'b', symbol, mult),
          asks: levels(d.a, 'a', symbol, mult),
          first: num(d.U, 'U', symbol, 'book'),
          last: num(d.u, 'u', symbol, 'book'),
          prev: d.pu === undefined ? null : num(d.pu, 'pu', symbol, 'book'),
        },
      ];
    }
    case 'aggTrade':
    case 'trade': {
      const symbol = ctx.symbolOf(str(d.s, 's'));
      if (!symbol) return [];
      const id = d.e === 'aggTrade' ? d.a : d.t;
      if (typeof d.m !== 'boolean') throw new VenueParseError('m: not a boolean', symbol, 'trade');
      return [
        {
          kind: 'trade',
          symbol,
          ts: ms(d.T, 'T', symbol, 'trade'),
          id: String(num(id, 'trade id', symbol, 'trade')),
          price: num(d.p, 'p', symbol, 'trade'),
          amount: num(d.q, 'q', symbol, 'trade') * ctx.market(symbol).contractSize,
          // m = buyer is maker, so the taker sold.
          side: d.m ? 'sell' : 'buy',
          liquidation: false,
        },
      ];
    }
    case 'forceOrder': {
      const o = obj(d.o, 'o');
      const symbol = ctx.symbolOf(str(o.s, 'o.s'));
      if (!symbol) return [];
      const side = str(o.S, 'o.S', symbol, 'liquidation');
      const avg = optNum(o.ap, 'o.ap', symbol, 'liquidation');
      const filled = optNum(o.z, 'o.z', symbol, 'liquidation');
      const price = avg && avg > 0 ? avg : num(o.p, 'o.p', symbol, 'liquidation');
      const amount = (filled && filled > 0 ? filled : num(o.q, 'o.q', symbol, 'liquidation')) * ctx.market(symbol).contractSize;
      const ts = ms(o.T ?? d.E, 'o.T', symbol, 'liquidation');
      return [
        {
          kind: 'liquidation',
          symbol,
          ts,
          // Binance gives no order id; one event per symbol per second makes (symbol, T, side) unique.
          id: `${o.s}-${ts}-${side}`,
          // The liquidation order's side: a SELL closes a long.
          liquidatedPosition: side === 'SELL' ? 'long' : 'short',
          price,
          amount,
          completeness: 'lower_bound',
        },
      ];
    }
    case 'markPriceUpdate': {
      const symbol = ctx.symbolOf(str(d.s, 's'));
      if (!symbol) return [];
      const next = optNum(d.T, 'T', symbol, 'ticker');
      return [
        {
          kind: 'ticker',
          symbol,
          ts: ms(d.E, 'E', symbol, 'ticker'),
          markPrice: num(d.p, 'p', symbol, 'ticker'),
          indexPrice: optNum(d.i, 'i', symbol, 'ticker'),
          fundingRate: optNum(d.r, 'r', symbol, 'ticker'),
          // Delivery contracts report 0: no funding.
          nextFundingTime: next && next > 0 ? next : null,
        },
      ];
    }
    case 'serverShutdown':
      return [{ kind: 'control', action: 'reconnect', detail: 'serverShutdown' }];
    default:
      return [{ kind: 'control', action: 'ignore', detail: String(d.e) }];
  }
}
