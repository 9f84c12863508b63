import { VenueParseError, type ParseContext, type RestPoll, type StreamSpec, type TickerMsg, type VenueAdapter } from '../sync/adapter.ts';
import { findMarket } from '../metadata/index.ts';
import { binanceVenueSymbol, combinedStreamUrl, identifyBinance, parseBinance, parseBinanceSnapshot } from './binance-common.ts';
import { ms, num, str } from './util.ts';

/**
 * `GET /fapi/v1/openInterest?symbol=BTCUSDT` → `{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}`
 * (open interest in contracts, i.e. base for USDⓈ-M linear; `time` = transaction time). Errors come
 * as `{"code":-1121,"msg":"Invalid symbol."}`.
 */
export function parseBinanceOpenInterest(body: string, symbol: string, ctx: ParseContext): TickerMsg {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new VenueParseError(`open interest: not JSON (${body.slice(0, 40)})`, symbol, 'ticker');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new VenueParseError('open interest: not an object', symbol, 'ticker');
  const msg = raw as Record<string, unknown>;
  if (typeof msg.code === 'number') throw new VenueParseError(`open interest error ${msg.code}: ${String(msg.msg)}`, symbol, 'ticker');
  const vs = str(msg.symbol, 'symbol', symbol, 'ticker');
  if (ctx.symbolOf(vs) !== symbol) throw new VenueParseError(`open interest: answer is for ${vs}, asked for ${symbol}`, symbol, 'ticker');
  const oi = num(msg.openInterest, 'openInterest', symbol, 'ticker');
  if (oi < 0) throw new VenueParseError(`openInterest: negative (${oi})`, symbol, 'ticker');
  return { kind: 'ticker', symbol, ts: ms(msg.time, 'time', symbol, 'ticker'), openInterest: oi * ctx.market(symbol).contractSize };
}

/**
 * Open interest has no stream on Binance USD-M: poll it. Weight 1 per call against the 2400/min
 * per-IP budget (depth limit=1000 costs 20): the default 3 symbols every 10 s cost 18/min.
 */
export const binanceOpenInterest: RestPoll = {
  name: 'open_interest',
  fields: ['openInterest'],
  url: (rest, venueSymbol) => `${rest.replace(/\/+$/, '')}/fapi/v1/openInterest?symbol=${venueSymbol}`,
  intervalMs: 10_000,
  weight: 1,
  parse: parseBinanceOpenInterest,
};

/**
 * Binance USD-M futures. Depth is bridged from REST `/fapi/v1/depth` (lastUpdateId L): drop u < L,
 * first applied event has U <= L <= u, then every event's pu must equal the previous u.
 * Since 2026-04-23 streams are routed by path: depth on `/public`, aggTrade/markPrice/forceOrder on
 * `/market` (markPrice on an un-routed socket is silently empty — the ticker stale timeout catches it).
 */
export const binanceFutures: VenueAdapter = {
  venue: 'binance-futures',
  defaultUrls: { rest: 'https://fapi.binance.com', ws: 'wss://fstream.binance.com' },
  defaultSymbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'],
  // Docs say 1024, mirrors say 200: stay at the safe figure.
  maxStreamsPerConnection: 200,
  // forceOrder is sampled and bursty, trades can pause; markPrice@1s must keep ticking.
  staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: 10_000 },
  // The server pings every 3 min (ws answers automatically) and expects a pong within 10.
  heartbeat: { silenceTimeoutMs: 60_000 },
  sync: {
    bootstrap: 'rest',
    depthLimit: 0,
    bridge(L, d) {
      if (d.last! < L) return 'skip';
      if (d.first! <= L) return 'apply';
      return 'snapshot_too_old';
    },
    next(last, d) {
      if (last !== null && d.last! <= last) return 'skip';
      return d.prev === last ? 'apply' : 'gap';
    },
  },
  restSnapshot: {
    url: (rest, venueSymbol) => `${rest.replace(/\/+$/, '')}/fapi/v1/depth?symbol=${venueSymbol}&limit=1000`,
    parse: parseBinanceSnapshot,
  },
  polls: [binanceOpenInterest],
  toVenueSymbol: (symbol) => binanceVenueSymbol(symbol, findMarket('binance-futures', symbol)?.venueSymbol),
  streams(symbol, venueSymbol): StreamSpec[] {
    const s = venueSymbol.toLowerCase();
    return [
      { symbol, channel: 'book', name: `${s}@depth@100ms`, route: '/public/stream' },
      { symbol, channel: 'trade', name: `${s}@aggTrade`, route: '/market/stream' },
      { symbol, channel: 'liquidation', name: `${s}@forceOrder`, route: '/market/stream' },
      { symbol, channel: 'ticker', name: `${s}@markPrice@1s`, route: '/market/stream' },
    ];
  },
  connectUrl: combinedStreamUrl,
  onOpen: () => [],
  parse: parseBinance,
  identify: identifyBinance,
};
