import { parseSymbol, type VenueId } from '@depthwatch/schemas';
import snapshot from './markets.json' with { type: 'json' };

/**
 * What the pipeline needs to know about a market to normalize units. Generated from ccxt by
 * scripts/refresh-metadata.ts; one entry per (venue, market) so a new venue only appends entries.
 */
export interface MarketInfo {
  venue: VenueId;
  /** ccxt unified symbol. */
  symbol: string;
  /** The venue's own instrument id. */
  venueSymbol: string;
  type: 'spot' | 'swap' | 'future' | 'option';
  base: string;
  quote: string;
  settle: string | null;
  linear: boolean;
  inverse: boolean;
  /** Base units per contract (linear), quote units per contract (inverse); 1 for spot. */
  contractSize: number;
  /** Price increment in quote; null when unknown. */
  tickSize: number | null;
  /** Amount increment in venue units (contracts for derivatives quoted in contracts). */
  lotSize: number | null;
  /** Set when the entry was not derived by ccxt (written from the venue's docs): where it came from. */
  source?: string;
}

export interface MetadataFile {
  generatedAt: string;
  source: string;
  markets: MarketInfo[];
}

const SHIPPED = snapshot as MetadataFile;
const byKey = new Map<string, MarketInfo>();
for (const m of SHIPPED.markets) byKey.set(`${m.venue}|${m.symbol}`, m);

/** Lets tests and the refresh path add markets (e.g. loaded live through ccxt) at runtime. */
export function registerMarkets(markets: readonly MarketInfo[]): void {
  for (const m of markets) byKey.set(`${m.venue}|${m.symbol}`, m);
}

export function findMarket(venue: VenueId, symbol: string): MarketInfo | undefined {
  return byKey.get(`${venue}|${symbol}`);
}

export function marketsOf(venue: VenueId): MarketInfo[] {
  return [...byKey.values()].filter((m) => m.venue === venue);
}

/**
 * Known market or a conservative guess from the unified symbol (contract size 1, linear unless
 * settle == base). Guessing keeps a collector running for a symbol the shipped file lacks; the
 * venue adapter's symbol mapping is the same either way.
 */
export function marketInfo(venue: VenueId, symbol: string, venueSymbol = ''): MarketInfo {
  const known = findMarket(venue, symbol);
  if (known) return known;
  const parts = parseSymbol(symbol);
  const inverse = parts?.settle != null && parts.settle === parts.base;
  return {
    venue,
    symbol,
    venueSymbol,
    type: parts?.settle ? (parts.expiry ? 'future' : 'swap') : 'spot',
    base: parts?.base ?? symbol,
    quote: parts?.quote ?? '',
    settle: parts?.settle ?? null,
    linear: parts?.settle != null && !inverse,
    inverse,
    contractSize: 1,
    tickSize: null,
    lotSize: null,
  };
}
