import type { StreamSpec, VenueAdapter } from '../sync/adapter.ts';
import { findMarket } from '../metadata/index.ts';
import { binanceVenueSymbol, combinedStreamUrl, identifyBinance, parseBinance, parseBinanceSnapshot } from './binance-common.ts';

/**
 * Binance spot. REST `/api/v3/depth?limit=5000` bridged to `@depth@100ms` diffs: a snapshot whose
 * lastUpdateId is older than the first buffered U is refetched; events with u <= local id are stale;
 * U > local id + 1 means a missed event, so the book restarts. Diffs carry no `pu`.
 * The server pings every 20 s with a payload; ws echoes it in the pong automatically.
 */
export const binance: VenueAdapter = {
  venue: 'binance',
  defaultUrls: { rest: 'https://api.binance.com', ws: 'wss://data-stream.binance.vision' },
  defaultSymbols: ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'],
  maxStreamsPerConnection: 200,
  staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: Infinity },
  heartbeat: { silenceTimeoutMs: 60_000 },
  sync: {
    bootstrap: 'rest',
    depthLimit: 0,
    bridge(L, d) {
      if (d.last! <= L) return 'skip';
      if (d.first! <= L + 1) return 'apply';
      return 'snapshot_too_old';
    },
    next(last, d) {
      if (last !== null && d.last! <= last) return 'skip';
      if (last !== null && d.first! > last + 1) return 'gap';
      return 'apply';
    },
  },
  restSnapshot: {
    url: (rest, venueSymbol) => `${rest.replace(/\/+$/, '')}/api/v3/depth?symbol=${venueSymbol}&limit=5000`,
    parse: parseBinanceSnapshot,
  },
  toVenueSymbol: (symbol) => binanceVenueSymbol(symbol, findMarket('binance', symbol)?.venueSymbol),
  streams(symbol, venueSymbol): StreamSpec[] {
    const s = venueSymbol.toLowerCase();
    return [
      { symbol, channel: 'book', name: `${s}@depth@100ms`, route: '/stream' },
      { symbol, channel: 'trade', name: `${s}@trade`, route: '/stream' },
    ];
  },
  connectUrl: combinedStreamUrl,
  onOpen: () => [],
  parse: parseBinance,
  identify: identifyBinance,
};
