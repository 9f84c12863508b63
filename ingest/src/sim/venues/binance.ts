import type { Market } from '../market.ts';
import { BinanceSimVenue } from './binance-common.ts';

/** Binance spot front end: `/api/v3/*` REST, `/stream` sockets, U/u depth without pu, `@trade`, server pings every 20 s. */
export function binanceFrontEnd(market: Market, seed?: number, serverPingMs = 20_000): BinanceSimVenue {
  return new BinanceSimVenue({ venue: 'binance', futures: false, market, seed, serverPingMs });
}
