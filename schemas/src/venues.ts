/**
 * Venue ids are part of the public protocol and of ClickHouse keys: never rename one.
 * Native venues have their own adapter (ingest/src/venues); any other exchange ccxt pro supports
 * can be streamed through the generic fallback collector (ingest/src/ccxt) as `ccxt:<exchangeId>`.
 */
export const VENUE_IDS = [
  'binance-futures',
  'binance',
  'bybit',
  'okx',
  'coinbase',
  'kraken',
  'deribit',
  'hyperliquid',
  'bitmex',
] as const;

export type NativeVenueId = (typeof VENUE_IDS)[number];
/** A venue collected through ccxt pro's watch* API: `ccxt:gate`, `ccxt:kucoin`. */
export type CcxtVenueId = `ccxt:${string}`;
export type VenueId = NativeVenueId | CcxtVenueId;

/**
 * ccxt exchange ids are lowercase letters and digits. Strict on purpose: venue ids reach SQL (the
 * history API builds ClickHouse queries only from validated values) and Prometheus labels.
 * Whether the exchange exists in ccxt pro is checked where ccxt is loaded (ingest/src/ccxt).
 */
const CCXT_VENUE = /^ccxt:[a-z0-9]{2,32}$/;

/** One regular expression for every valid venue id (JSON schemas use it as `pattern`). */
export const VENUE_ID_PATTERN = `^(${VENUE_IDS.join('|')}|ccxt:[a-z0-9]{2,32})$`;

/** What a valid venue id looks like, for error messages. */
export const VENUE_ID_HELP = `${VENUE_IDS.join(', ')}, or ccxt:<exchange id> (ccxt pro id, lowercase letters and digits, e.g. ccxt:gate)`;

export function isNativeVenueId(value: unknown): value is NativeVenueId {
  return typeof value === 'string' && (VENUE_IDS as readonly string[]).includes(value);
}

export function isCcxtVenueId(value: unknown): value is CcxtVenueId {
  return typeof value === 'string' && CCXT_VENUE.test(value);
}

export function isVenueId(value: unknown): value is VenueId {
  return isNativeVenueId(value) || isCcxtVenueId(value);
}

/** `ccxt:gate` → `gate`. */
export function ccxtExchangeId(venue: CcxtVenueId): string {
  return venue.slice('ccxt:'.length);
}

/** Bus and partition key: one partition owns one venue:symbol, which is what keeps per-symbol order. */
export function streamKey(venue: string, symbol: string): string {
  return `${venue}:${symbol}`;
}

/**
 * ccxt unified symbol parts: `BASE/QUOTE` (spot), `BASE/QUOTE:SETTLE` (perpetual swap),
 * `BASE/QUOTE:SETTLE-YYMMDD` (dated future). Inverse when settle === base.
 */
export interface SymbolParts {
  base: string;
  quote: string;
  settle: string | null;
  expiry: string | null;
}

const UNIFIED_SYMBOL = /^([A-Z0-9]{1,20})\/([A-Z0-9]{1,20})(?::([A-Z0-9]{1,20})(?:-([0-9]{6}))?)?$/;

export function parseSymbol(symbol: string): SymbolParts | null {
  const m = UNIFIED_SYMBOL.exec(symbol);
  if (!m) return null;
  return { base: m[1], quote: m[2], settle: m[3] ?? null, expiry: m[4] ?? null };
}

export function isUnifiedSymbol(symbol: unknown): symbol is string {
  return typeof symbol === 'string' && UNIFIED_SYMBOL.test(symbol);
}

/** The asset a symbol prices: what cross-venue aggregation groups by. */
export function assetOf(symbol: string): string {
  const slash = symbol.indexOf('/');
  return slash > 0 ? symbol.slice(0, slash) : symbol;
}

/** Quotes treated as one dollar for cross-venue sums. */
export const USD_LIKE_QUOTES: ReadonlySet<string> = new Set(['USD', 'USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'DAI', 'USDE']);
