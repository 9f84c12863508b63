import type { Channel, ParseContext, StreamSpec, VenueAdapter, VenueMessage } from '../sync/adapter.ts';
import { VenueParseError } from '../sync/adapter.ts';
import { findMarket } from '../metadata/index.ts';
import { levels, ms, num, obj, optNum, str, toBase } from './util.ts';

/**
 * Bybit v5 linear (USDT/USDC perpetuals and futures), one public socket `/v5/public/linear`.
 *
 * Book: `orderbook.200.{sym}` (100 ms): in-band `snapshot` then `delta`s whose `u` goes up by one
 * per message. A later `snapshot` (Bybit re-sends one on trouble; level 1 re-sends every 3 s with
 * the same `u`) or any message with `u=1` (service restart) replaces the book; a jump in `u` is a
 * gap → unsubscribe + subscribe for a fresh snapshot; `u` ≤ last is stale. The venue keeps a
 * 200-level window, so the book is truncated to 200 after every delta. No checksum.
 * Trades `publicTrade` (S = taker side), liquidations `allLiquidation` (every liquidation, 500 ms
 * batches; S = side of the liquidated position, price = bankruptcy price), `tickers` snapshot then
 * deltas carrying only changed fields (the framework merges them).
 */

export const BYBIT_BOOK_DEPTH = 200;
/** Topics per subscribe request (spot's documented cap; linear has none, stay conservative). */
const ARGS_PER_REQUEST = 10;

const TOPIC_CHANNEL: Record<string, Channel> = { orderbook: 'book', publicTrade: 'trade', allLiquidation: 'liquidation', tickers: 'ticker' };

function subscribeFrames(op: 'subscribe' | 'unsubscribe', topics: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < topics.length; i += ARGS_PER_REQUEST) {
    out.push(JSON.stringify({ req_id: `${op}-${i / ARGS_PER_REQUEST}`, op, args: topics.slice(i, i + ARGS_PER_REQUEST) }));
  }
  return out;
}

/** `orderbook.200.BTCUSDT` → BTCUSDT; `tickers.BTCUSDT` → BTCUSDT. */
function topicSymbol(topic: string): string {
  return topic.slice(topic.lastIndexOf('.') + 1);
}

export function parseBybit(text: string, ctx: ParseContext): VenueMessage[] {
  const msg = obj(JSON.parse(text), 'frame');
  if (typeof msg.op === 'string') {
    // Acks and pongs: {"success":true,"ret_msg":"pong","op":"ping",…}; failures carry success:false.
    if (msg.success === false) return [{ kind: 'error', symbol: null, channel: null, reason: `${msg.op}: ${String(msg.ret_msg)}` }];
    return [{ kind: 'control', action: 'ignore', detail: String(msg.op) }];
  }
  const topic = str(msg.topic, 'topic');
  const kind = topic.slice(0, topic.indexOf('.'));
  const symbol = ctx.symbolOf(topicSymbol(topic));
  if (!symbol) return [];
  const market = ctx.market(symbol);
  switch (kind) {
    case 'orderbook': {
      const d = obj(msg.data, 'data');
      const u = num(d.u, 'u', symbol, 'book');
      const ts = ms(msg.cts ?? msg.ts, 'ts', symbol, 'book');
      const bids = levels(d.b, 'b', symbol, market.contractSize);
      const asks = levels(d.a, 'a', symbol, market.contractSize);
      if (msg.type === 'snapshot' || u === 1) return [{ kind: 'book_snapshot', symbol, ts, bids, asks, id: u }];
      if (msg.type !== 'delta') throw new VenueParseError(`orderbook type ${String(msg.type)}`, symbol, 'book');
      return [{ kind: 'book_diff', symbol, ts, bids, asks, first: u, last: u, prev: null }];
    }
    case 'publicTrade': {
      if (!Array.isArray(msg.data)) throw new VenueParseError('data: not an array', symbol, 'trade');
      return msg.data.map((raw) => {
        const t = obj(raw, 'trade');
        const side = str(t.S, 'S', symbol, 'trade');
        if (side !== 'Buy' && side !== 'Sell') throw new VenueParseError(`S: ${side}`, symbol, 'trade');
        return {
          kind: 'trade' as const,
          symbol,
          ts: ms(t.T, 'T', symbol, 'trade'),
          id: str(t.i, 'i', symbol, 'trade'),
          price: num(t.p, 'p', symbol, 'trade'),
          amount: toBase(num(t.v, 'v', symbol, 'trade'), market.contractSize),
          side: side === 'Buy' ? ('buy' as const) : ('sell' as const),
          liquidation: false,
        };
      });
    }
    case 'allLiquidation': {
      if (!Array.isArray(msg.data)) throw new VenueParseError('data: not an array', symbol, 'liquidation');
      return msg.data.map((raw) => {
        const l = obj(raw, 'liquidation');
        const side = str(l.S, 'S', symbol, 'liquidation');
        const ts = ms(l.T, 'T', symbol, 'liquidation');
        const v = str(l.v, 'v', symbol, 'liquidation');
        const p = str(l.p, 'p', symbol, 'liquidation');
        return {
          kind: 'liquidation' as const,
          symbol,
          ts,
          // No id on the wire: (T, s, S, v, p) identifies one.
          id: `${topicSymbol(topic)}-${ts}-${side}-${v}-${p}`,
          // S is the position side: "Buy update means a long position has been liquidated".
          liquidatedPosition: side === 'Buy' ? ('long' as const) : ('short' as const),
          price: num(p, 'p', symbol, 'liquidation'),
          amount: toBase(num(v, 'v', symbol, 'liquidation'), market.contractSize),
          completeness: 'complete' as const,
        };
      });
    }
    case 'tickers': {
      const d = obj(msg.data, 'data');
      const field = (k: string) => (d[k] === undefined ? undefined : optNum(d[k], k, symbol, 'ticker'));
      const oi = field('openInterest');
      const next = field('nextFundingTime');
      return [
        {
          kind: 'ticker',
          symbol,
          ts: ms(msg.ts, 'ts', symbol, 'ticker'),
          markPrice: field('markPrice'),
          indexPrice: field('indexPrice'),
          lastPrice: field('lastPrice'),
          fundingRate: field('fundingRate'),
          // Dated futures send "": no funding.
          nextFundingTime: next === undefined ? undefined : next && next > 0 ? next : null,
          openInterest: oi == null ? oi : toBase(oi, market.contractSize),
        },
      ];
    }
    default:
      return [{ kind: 'control', action: 'ignore', detail: topic }];
  }
}

const TOPIC_RE = /"topic":"(orderbook|publicTrade|allLiquidation|tickers)\.(?:\d+\.)?([A-Z0-9]+)"/;

export const bybit: VenueAdapter = {
  venue: 'bybit',
  defaultUrls: { rest: 'https://api.bybit.com', ws: 'wss://stream.bybit.com' },
  defaultSymbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'],
  // Args per public connection are capped at 21,000 characters: 200 topics stay far below.
  maxStreamsPerConnection: 200,
  // tickers pushes every 100 ms; trades and liquidations can pause.
  staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: 10_000 },
  // {"op":"ping"} every 20 s; Bybit cuts a connection after ~10 min without traffic.
  heartbeat: { clientPing: { intervalMs: 20_000, frame: '{"op":"ping"}', onlyWhenIdle: false }, silenceTimeoutMs: 60_000 },
  sync: {
    bootstrap: 'in-band',
    depthLimit: BYBIT_BOOK_DEPTH,
    next(last, d) {
      if (last !== null && d.last! <= last) return 'skip';
      return last === null || d.last === last + 1 ? 'apply' : 'gap';
    },
  },
  toVenueSymbol: (symbol) => findMarket('bybit', symbol)?.venueSymbol ?? symbol.split(':')[0].replace('/', ''),
  streams(symbol, vs): StreamSpec[] {
    const route = '/v5/public/linear';
    return [
      { symbol, channel: 'book', name: `orderbook.${BYBIT_BOOK_DEPTH}.${vs}`, route },
      { symbol, channel: 'trade', name: `publicTrade.${vs}`, route },
      { symbol, channel: 'liquidation', name: `allLiquidation.${vs}`, route },
      { symbol, channel: 'ticker', name: `tickers.${vs}`, route },
    ];
  },
  connectUrl: (wsBase, route) => `${wsBase.replace(/\/+$/, '')}${route}`,
  onOpen: (_route, streams) => subscribeFrames('subscribe', streams.map((s) => s.name)),
  resubscribe: (stream) => [...subscribeFrames('unsubscribe', [stream.name]), ...subscribeFrames('subscribe', [stream.name])],
  parse: parseBybit,
  identify(text) {
    const m = TOPIC_RE.exec(text);
    return m ? { venueSymbol: m[2], channel: TOPIC_CHANNEL[m[1]] } : null;
  },
};
