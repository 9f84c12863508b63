import type { Channel, StreamSpec, TradeMsg, VenueAdapter, VenueMessage } from '../sync/adapter.ts';
import { VenueParseError } from '../sync/adapter.ts';
import { findMarket } from '../metadata/index.ts';
import { ms, num, obj, objectLevels, optNum, str } from './util.ts';

/**
 * Hyperliquid (`/ws`). `l2Book`: every message is a complete book (about 20 levels per side, no
 * diffs, no sequence): bootstrap `full`, the framework publishes the difference to the previous
 * book, and a lost message heals itself (it cannot be detected). `trades`: `side` B = taker bought,
 * A = taker sold. `activeAssetCtx`: hourly `funding`, `openInterest` in coin, `oraclePx` (index),
 * `markPx`. Amounts are in the coin already (no contracts).
 *
 * Liquidations: there is NO public liquidation channel and public trades carry no liquidation
 * flag; liquidations are only visible per user (`userFills`/`userEvents`, max 10 users per IP) or
 * off-API. This adapter therefore publishes no Liquidation events for Hyperliquid.
 *
 * Keepalive: the server closes a connection whose *client* sent nothing for 60 s, however busy the
 * server side is, so `{"method":"ping"}` goes out on a fixed cadence (not only when idle).
 */

export const HYPERLIQUID_DEPTH = 20;
const ROUTE = '/ws';
const HOUR = 3_600_000;
const TYPE_CHANNEL: Record<string, Channel> = { l2Book: 'book', trades: 'trade', activeAssetCtx: 'ticker' };
const IDENT_RE = /"channel":"(l2Book|trades|activeAssetCtx)".{0,40}?"coin":"([^"]+)"/;

export function hyperliquidCoin(symbol: string): string {
  return findMarket('hyperliquid', symbol)?.venueSymbol ?? symbol.split('/')[0];
}

export function parseHyperliquid(text: string, ctx: { recvTs: number; symbolOf(vs: string): string | undefined }): VenueMessage[] {
  const msg = obj(JSON.parse(text), 'frame');
  switch (msg.channel) {
    case 'l2Book': {
      const d = obj(msg.data, 'data');
      const symbol = ctx.symbolOf(str(d.coin, 'coin'));
      if (!symbol) return [];
      const levels = d.levels;
      if (!Array.isArray(levels) || levels.length !== 2) throw new VenueParseError('levels: not [bids, asks]', symbol, 'book');
      return [{ kind: 'book_snapshot', symbol, ts: ms(d.time, 'time', symbol, 'book'), bids: objectLevels(levels[0], 'bids', symbol, 'px', 'sz'), asks: objectLevels(levels[1], 'asks', symbol, 'px', 'sz'), id: null }];
    }
    case 'trades': {
      if (!Array.isArray(msg.data)) throw new VenueParseError('trades: data not an array');
      const out: TradeMsg[] = [];
      for (const raw of msg.data) {
        const t = obj(raw, 'trade');
        const symbol = ctx.symbolOf(str(t.coin, 'coin'));
        if (!symbol) continue;
        if (t.side !== 'A' && t.side !== 'B') throw new VenueParseError(`side ${JSON.stringify(t.side)}`, symbol, 'trade');
        out.push({
          kind: 'trade',
          symbol,
          ts: ms(t.time, 'time', symbol, 'trade'),
          id: String(num(t.tid, 'tid', symbol, 'trade')),
          price: num(t.px, 'px', symbol, 'trade'),
          amount: num(t.sz, 'sz', symbol, 'trade'),
          side: t.side === 'B' ? 'buy' : 'sell',
          liquidation: false, // public trades carry no liquidation flag
        });
      }
      return out;
    }
    case 'activeAssetCtx': {
      const d = obj(msg.data, 'data');
      const symbol = ctx.symbolOf(str(d.coin, 'coin'));
      if (!symbol) return [];
      const c = obj(d.ctx, 'ctx');
      return [
        {
          kind: 'ticker',
          symbol,
          // The context carries no time of its own.
          ts: ctx.recvTs,
          markPrice: optNum(c.markPx, 'markPx', symbol, 'ticker'),
          indexPrice: optNum(c.oraclePx, 'oraclePx', symbol, 'ticker'),
          fundingRate: optNum(c.funding, 'funding', symbol, 'ticker'),
          // Funding is paid every hour on the hour.
          nextFundingTime: Math.floor(ctx.recvTs / HOUR) * HOUR + HOUR,
          openInterest: optNum(c.openInterest, 'openInterest', symbol, 'ticker'),
        },
      ];
    }
    case 'subscriptionResponse':
    case 'pong':
      return [{ kind: 'control', action: 'ignore', detail: msg.channel }];
    case 'error':
      return [{ kind: 'error', symbol: null, channel: null, reason: String(msg.data) }];
    default:
      return [{ kind: 'control', action: 'ignore', detail: String(msg.channel) }];
  }
}

export const hyperliquid: VenueAdapter = {
  venue: 'hyperliquid',
  defaultUrls: { rest: 'https://api.hyperliquid.xyz', ws: 'wss://api.hyperliquid.xyz' },
  defaultSymbols: ['BTC/USDC:USDC', 'ETH/USDC:USDC'],
  // 1000 subscriptions per IP; one per (channel, coin).
  maxStreamsPerConnection: 300,
  staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: 60_000 },
  heartbeat: { clientPing: { intervalMs: 20_000, frame: '{"method":"ping"}', onlyWhenIdle: false }, silenceTimeoutMs: 45_000 },
  sync: { bootstrap: 'full', depthLimit: HYPERLIQUID_DEPTH, next: () => 'apply' },
  toVenueSymbol: hyperliquidCoin,
  streams(symbol, coin): StreamSpec[] {
    return [
      { symbol, channel: 'book', name: `l2Book:${coin}`, route: ROUTE },
      { symbol, channel: 'trade', name: `trades:${coin}`, route: ROUTE },
      { symbol, channel: 'ticker', name: `activeAssetCtx:${coin}`, route: ROUTE },
    ];
  },
  connectUrl: (wsBase, route) => `${wsBase.replace(/\/+$/, '')}${route}`,
  onOpen: (_route, streams) =>
    streams.map((s) => {
      const [type, coin] = s.name.split(':');
      return JSON.stringify({ method: 'subscribe', subscription: { type, coin } });
    }),
  parse: parseHyperliquid,
  identify(text) {
    const m = IDENT_RE.exec(text);
    return m ? { venueSymbol: m[2], channel: TYPE_CHANNEL[m[1]] } : null;
  },
};
