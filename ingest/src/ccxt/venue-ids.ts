import { VENUE_ID_HELP, ccxtExchangeId, isCcxtVenueId, type NativeVenueId } from '@depthwatch/schemas';
import { loadCcxt } from './load.ts';

/**
 * ccxt's exchange id for each native venue. A `ccxt:<id>` venue naming one of these would collect
 * the same exchange twice under two venue ids (double-counted in cross-venue sums), so it is
 * refused unless forced (comparing the fallback with the native collector, tests).
 */
export const NATIVE_CCXT_IDS: Readonly<Record<NativeVenueId, string>> = {
  'binance-futures': 'binanceusdm',
  binance: 'binance',
  bybit: 'bybit',
  okx: 'okx',
  coinbase: 'coinbase',
  kraken: 'kraken',
  deribit: 'deribit',
  hyperliquid: 'hyperliquid',
  bitmex: 'bitmex',
};

export class CcxtVenueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CcxtVenueError';
  }
}

/** The native venue ccxt exchange `id` duplicates, if any. */
export function nativeVenueOf(exchangeId: string): NativeVenueId | null {
  for (const [venue, id] of Object.entries(NATIVE_CCXT_IDS)) if (id === exchangeId) return venue as NativeVenueId;
  return null;
}

/**
 * Checks a `ccxt:<id>` venue against the ccxt pro exchange list and returns the exchange id.
 * Pure (the list is passed in) so the rules are unit-tested without loading ccxt.
 */
export function checkCcxtVenue(venue: string, proExchanges: readonly string[], opts: { force?: boolean; ccxtVersion?: string } = {}): string {
  if (!isCcxtVenueId(venue)) throw new CcxtVenueError(`"${venue}" is not a ccxt venue id; venue ids are ${VENUE_ID_HELP}`);
  const id = ccxtExchangeId(venue);
  if (!proExchanges.includes(id)) {
    const near = proExchanges.filter((x) => x.startsWith(id.slice(0, 3)));
    throw new CcxtVenueError(
      `${venue}: ccxt${opts.ccxtVersion ? ' ' + opts.ccxtVersion : ''} pro has no exchange "${id}"` +
        (near.length ? ` (did you mean ${near.map((x) => 'ccxt:' + x).join(', ')}?)` : '') +
        `; ccxt pro exchanges: ${proExchanges.join(', ')}`,
    );
  }
  const native = nativeVenueOf(id);
  if (native && !opts.force) {
    throw new CcxtVenueError(
      `${venue}: "${id}" is ccxt's id for ${native}, which has a native collector; use the venue ${native}, ` +
        `or force the ccxt fallback (--ccxt-force) to run both, e.g. to compare them`,
    );
  }
  return id;
}

/** checkCcxtVenue against the installed ccxt (loads it: ~1 s the first time). */
export async function resolveCcxtVenue(venue: string, opts: { force?: boolean } = {}): Promise<string> {
  const ccxt = await loadCcxt();
  return checkCcxtVenue(venue, ccxt.pro.exchanges, { ...opts, ccxtVersion: ccxt.version });
}
