/** Venue ids are part of the public protocol and of ClickHouse keys: never rename one. */
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

export type VenueId = (typeof VENUE_IDS)[number];

export function isVenueId(value: unknown): value is VenueId {
  return typeof value === 'string' && (VENUE_IDS as readonly string[]).includes(value);
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
