import type { Market } from '../market.ts';
import { BinanceSimVenue } from './binance-common.ts';

/** Binance USD-M front end: `/fapi/v1/*` REST, routed `/public|/market/stream` sockets, pu-chained depth, forceOrder, markPrice@1s. */
export function binanceFuturesFrontEnd(market: Market, seed?: number): BinanceSimVenue {
  return new BinanceSimVenue({ venue: 'binance-futures', futures: true, market, seed });
}
