import type { CcxtVenueId } from '@depthwatch/schemas';
import { marketsOf, type MarketInfo } from '../metadata/index.ts';
import type { CcxtMarket, CcxtModule } from './load.ts';
import { nativeVenueOf } from './venue-ids.ts';

/**
 * Market metadata for the ccxt fallback. ccxt needs markets before it can subscribe; they come either
 * from the exchange (loadMarkets: complete, needs the network) or from our shipped snapshot
 * (metadata/markets.json: offline and reproducible). The snapshot holds entries under the venue id
 * `ccxt:<id>`, and for a ccxt id that duplicates a native venue (forced) the native venue's entries
 * describe the same exchange.
 */

/** Shipped entries describing ccxt exchange `exchangeId`, re-labelled with the fallback's venue id. */
export function snapshotMarkets(venue: CcxtVenueId, exchangeId: string): MarketInfo[] {
  const own = marketsOf(venue);
  if (own.length > 0) return own;
  const native = nativeVenueOf(exchangeId);
  return native ? marketsOf(native).map((m) => ({ ...m, venue })) : [];
}

/**
 * A ccxt market structure from one of our entries: the unified fields ccxt's watch* code reads (id,
 * lowercaseId, type flags, linear/inverse, contractSize, tick-size precision). Exchange-specific
 * fields (`info`) are empty, so an exchange whose streaming code reads them needs loadMarkets.
 */
export function toCcxtMarket(m: MarketInfo): object {
  const contract = m.type !== 'spot';
  return {
    id: m.venueSymbol,
    lowercaseId: m.venueSymbol.toLowerCase(),
    symbol: m.symbol,
    base: m.base,
    quote: m.quote,
    settle: m.settle ?? undefined,
    baseId: m.base,
    quoteId: m.quote,
    settleId: m.settle ?? undefined,
    type: m.type,
    spot: m.type === 'spot',
    margin: false,
    swap: m.type === 'swap',
    future: m.type === 'future',
    option: m.type === 'option',
    contract,
    linear: contract ? m.linear : undefined,
    inverse: contract ? m.inverse : undefined,
    contractSize: contract ? m.contractSize : undefined,
    active: true,
    precision: { price: m.tickSize ?? undefined, amount: m.lotSize ?? undefined },
    info: {},
  };
}

/** Our MarketInfo from a market ccxt loaded (units: contract size, inverse; tick/lot as increments). */
export function fromCcxtMarket(venue: CcxtVenueId, m: CcxtMarket, precisionMode: number, ccxt: Pick<CcxtModule, 'TICK_SIZE'>): MarketInfo {
  const increment = (p: number | undefined): number | null => {
    if (p === undefined || p === null || !Number.isFinite(p)) return null;
    // DECIMAL_PLACES / SIGNIFICANT_DIGITS modes give digit counts; our files hold increments.
    return precisionMode === ccxt.TICK_SIZE ? p : Number((10 ** -p).toPrecision(12));
  };
  const type = m.type === 'swap' || m.type === 'future' || m.type === 'option' ? m.type : 'spot';
  const contract = m.contract === true;
  return {
    venue,
    symbol: m.symbol,
    venueSymbol: m.id,
    type,
    base: m.base,
    quote: m.quote,
    settle: m.settle ?? null,
    linear: contract && m.linear === true,
    inverse: contract && m.inverse === true,
    contractSize: contract ? (m.contractSize ?? 1) : 1,
    tickSize: increment(m.precision?.price),
    lotSize: increment(m.precision?.amount),
    source: 'ccxt loadMarkets (runtime)',
  };
}
