import type { VenueId } from '@depthwatch/schemas';
import type { VenueAdapter } from '../sync/adapter.ts';
import { binanceFutures } from './binance-futures.ts';
import { binance } from './binance.ts';
import { bybit } from './bybit.ts';
import { coinbase } from './coinbase.ts';
import { kraken } from './kraken.ts';
import { bitmex } from './bitmex.ts';
import { deribit } from './deribit.ts';
import { hyperliquid } from './hyperliquid.ts';
import { okx } from './okx.ts';

/** Adding a venue: write venues/<venue>.ts and add one line here. */
export const VENUES: Partial<Record<VenueId, VenueAdapter>> = {
  'binance-futures': binanceFutures,
  binance,
  bybit,
  coinbase,
  kraken,
  deribit,
  bitmex,
  hyperliquid,
  okx,
};

export function adapterFor(venue: VenueId): VenueAdapter {
  const a = VENUES[venue];
  if (!a) throw new Error(`no ingest adapter for venue ${venue}`);
  return a;
}

export const DEFAULT_SYMBOLS: Partial<Record<VenueId, readonly string[]>> = Object.fromEntries(
  Object.entries(VENUES).map(([venue, a]) => [venue, a!.defaultSymbols]),
);
