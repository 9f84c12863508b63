/**
 * ccxt, loaded on first use: importing it costs about a second and most runs (native venues only)
 * never need it. The types below are the slice of ccxt pro the fallback uses.
 */

export type CcxtLevel = ArrayLike<number>;

export interface CcxtOrderBook {
  bids: ArrayLike<CcxtLevel>;
  asks: ArrayLike<CcxtLevel>;
  timestamp?: number;
  nonce?: number;
}

export interface CcxtTrade {
  id?: string;
  timestamp?: number;
  price?: number;
  amount?: number;
  side?: string;
}

export interface CcxtTicker {
  timestamp?: number;
  last?: number;
  markPrice?: number;
  indexPrice?: number;
}

export interface CcxtLiquidation {
  timestamp?: number;
  price?: number;
  /** In contracts (× contractSize = base for linear contracts; quote for inverse ones). */
  contracts?: number;
  /** Not unified: the liquidation order's side on some exchanges, the liquidated position's on others (see liquidationConvention). */
  side?: string;
}

export interface CcxtMarket {
  id: string;
  symbol: string;
  type: string;
  base: string;
  quote: string;
  settle?: string;
  contract?: boolean;
  linear?: boolean;
  inverse?: boolean;
  contractSize?: number;
  precision: { price?: number; amount?: number };
}

export interface CcxtProExchange {
  id: string;
  urls: Record<string, unknown>;
  options: Record<string, unknown>;
  has: Record<string, boolean | string | undefined>;
  markets: Record<string, CcxtMarket> | undefined;
  precisionMode: number;
  loadMarkets(): Promise<Record<string, CcxtMarket>>;
  setMarkets(markets: object[]): unknown;
  watchOrderBook(symbol: string, limit?: number): Promise<CcxtOrderBook>;
  watchTrades(symbol: string): Promise<CcxtTrade[]>;
  watchTicker(symbol: string): Promise<CcxtTicker>;
  watchLiquidations(symbol: string): Promise<CcxtLiquidation[]>;
  close(): Promise<unknown>;
  /** Needed once before ccxt may open plain ws:// sockets (local/simulated endpoints). */
  loadHttpProxyAgent(): Promise<unknown>;
  /** ccxt's own deep merge (used for urls/options overrides). */
  deepExtend(...objects: object[]): Record<string, unknown>;
}

type ErrorClass = new (...args: never[]) => Error;

export interface CcxtModule {
  version: string;
  pro: Record<string, new (config?: object) => CcxtProExchange> & { exchanges: string[] };
  NetworkError: ErrorClass;
  InvalidNonce: ErrorClass;
  ChecksumError: ErrorClass;
  TICK_SIZE: number;
  DECIMAL_PLACES: number;
  SIGNIFICANT_DIGITS: number;
}

let loading: Promise<CcxtModule> | null = null;

export function loadCcxt(): Promise<CcxtModule> {
  loading ??= import('ccxt').then((m) => (m.default ?? m) as unknown as CcxtModule);
  return loading;
}
