import type { VenueId } from './venues.ts';

/** [price in quote, size in base units]; size 0 in a delta deletes the level. */
export type Level = [price: number, size: number];

/**
 * Every market-data event names its stream, carries both clocks and a per-stream sequence number.
 * `ts` is the exchange's timestamp (ms since epoch), `recvTs` our local receive time (ms);
 * keeping both is what lets us measure feed lag and clock skew.
 * `seq` increases by one per event on the stream (venue, symbol, event kind) so consumers detect loss.
 */
export interface StreamHeader {
  venue: VenueId;
  symbol: string;
  ts: number;
  recvTs: number;
  seq: number;
}

export interface BookSnapshot extends StreamHeader {
  type: 'book_snapshot';
  bids: Level[];
  asks: Level[];
  /** Levels per side the feed carries (0 = full depth). Bands beyond the deepest level are flagged truncated. */
  depthLimit: number;
}

export interface BookDelta extends StreamHeader {
  type: 'book_delta';
  bids: Level[];
  asks: Level[];
}

export type BookEvent = BookSnapshot | BookDelta;

export type Side = 'buy' | 'sell';

export interface Trade extends StreamHeader {
  type: 'trade';
  id: string;
  price: number;
  /** Base units, contract size applied. */
  amount: number;
  /** Aggressor (taker) side. */
  side: Side;
  /** True when the venue marks the trade as a liquidation fill. */
  liquidation: boolean;
}

/**
 * `complete`: every liquidation is published. `lower_bound`: the venue samples or throttles
 * (Binance forceOrder: at most one per symbol per second), so sums are lower bounds.
 */
export type LiquidationCompleteness = 'complete' | 'lower_bound';

export interface Liquidation extends StreamHeader {
  type: 'liquidation';
  id: string;
  /** The side of the position that was liquidated: a liquidated long sells into the bids. */
  liquidatedPosition: 'long' | 'short';
  price: number;
  /** Base units. */
  amount: number;
  /** Quote notional = price × amount (for inverse contracts, the contract value in quote). */
  notional: number;
  completeness: LiquidationCompleteness;
}

export interface Ticker extends StreamHeader {
  type: 'ticker';
  markPrice: number | null;
  indexPrice: number | null;
  lastPrice: number | null;
  /** Rate per funding interval as a fraction (0.0001 = 1 bp). */
  fundingRate: number | null;
  nextFundingTime: number | null;
  /** Base units. */
  openInterest: number | null;
}

export const SYNC_STATES = ['connecting', 'syncing', 'synced', 'resyncing', 'stale', 'down'] as const;
export type SyncState = (typeof SYNC_STATES)[number];

/** Per venue and symbol (symbol '*' = the whole connection) sync and health state. */
export interface FeedStatus extends StreamHeader {
  type: 'status';
  state: SyncState;
  reason: string;
  resyncs: number;
  gaps: number;
  checksumFailures: number;
  reconnects: number;
  /** Observed receive − exchange time in ms (median over the recent window); clock skew plus network lag. */
  lagMs: number | null;
}

export type MarketEvent = BookSnapshot | BookDelta | Trade | Liquidation | Ticker | FeedStatus;

export const BAND_PCTS = [0.1, 0.5, 1, 2, 5, 10] as const;
export const SLIPPAGE_NOTIONALS = [10_000, 100_000, 1_000_000] as const;
export const CAPACITY_BPS = [10, 50, 100] as const;

export interface DepthBand {
  pct: number;
  bidBase: number;
  askBase: number;
  bidQuote: number;
  askQuote: number;
  /** The band reaches past the deepest level held: the figure is a lower bound. */
  bidTruncated: boolean;
  askTruncated: boolean;
}

export interface Slippage {
  /** Quote notional of the market order. */
  notional: number;
  /** VWAP impact versus mid in bps; null when the book cannot fill it. */
  buyBps: number | null;
  sellBps: number | null;
}

export interface BlockCapacity {
  bps: number;
  /** Quote notional a market buy could fill within `bps` of mid. */
  buyQuote: number;
  sellQuote: number;
}

export interface DepthMetrics {
  type: 'depth';
  venue: VenueId;
  symbol: string;
  /** Exchange timestamp of the last book event applied. */
  ts: number;
  seq: number;
  bestBid: number;
  bestAsk: number;
  mid: number;
  microprice: number;
  spreadBps: number;
  /** (bid − ask) / (bid + ask) of base within 1 % of mid, in [-1, 1]. */
  imbalance: number;
  bidLevels: number;
  askLevels: number;
  bands: DepthBand[];
  slippage: Slippage[];
  capacity: BlockCapacity[];
}

export type AlertSeverity = 'watch' | 'warning' | 'critical';
export type AlertState = 'open' | 'update' | 'resolved';
export type AlertKind = 'cascade' | 'feed';

export interface AlertEvidence {
  liquidationNotional: number;
  liquidationRate: number;
  liquidationBaselineRate: number;
  depth2Pct: number;
  depth2PctBaseline: number;
  spreadBps: number;
  spreadBaselineBps: number;
  priceMovePct: number;
  venues: string[];
  /** Venues whose liquidation totals are lower bounds. */
  lowerBoundVenues: string[];
  depthTruncated: boolean;
}

export interface Alert {
  type: 'alert';
  id: string;
  kind: AlertKind;
  /** 'symbol': venue+symbol; 'asset': cross-venue (venue '*'); 'venue': feed health (symbol '*'). */
  scope: 'symbol' | 'asset' | 'venue';
  venue: string;
  symbol: string;
  asset: string;
  /** The book side under pressure: liquidated longs hit the bids. */
  side: 'bid' | 'ask' | 'none';
  stage: string;
  severity: AlertSeverity;
  state: AlertState;
  startTs: number;
  ts: number;
  endTs: number | null;
  seq: number;
  evidence: AlertEvidence;
  explanation: string;
}

/** Liquidation flow over one rolling window; "long" = liquidated longs (they sell into the bids). */
export interface LiquidationFlowWindow {
  windowSec: number;
  longNotional: number;
  shortNotional: number;
  longCount: number;
  shortCount: number;
  longLargest: number;
  shortLargest: number;
}

/**
 * Cross-venue aggregate of one asset over every symbol quoted in a USD-like currency, published on
 * out.depth with key `*:ASSET` (conflated, at most once per engine `assetIntervalMs` of event time).
 * `venue` and `symbol` are always '*' (like asset-scope alerts), so venue/symbol filters match it.
 */
export interface AssetDepth {
  type: 'asset_depth';
  venue: '*';
  symbol: '*';
  asset: string;
  /** Evaluation time (whole second of event time); book state and flows are as of just before it. */
  ts: number;
  seq: number;
  /** Venues with a live (two-sided, feed-healthy) book counted in the depth sums. */
  venues: string[];
  depth2PctBidQuote: number;
  depth2PctAskQuote: number;
  /** Sum of the per-symbol 2 % depth baselines; null before any baseline exists. */
  depth2PctBidBaseline: number | null;
  depth2PctAskBaseline: number | null;
  /** Some counted book is shallower than the 2 % band: the sums are lower bounds. */
  depthTruncated: boolean;
  /** Windows of 10 s, 60 s and 300 s ending at `ts`, summed over every USD-like symbol. */
  liquidations: LiquidationFlowWindow[];
  /** Venues whose liquidation feed is sampled (lower bound) within the detector window. */
  lowerBoundVenues: string[];
  /** Block capacity summed across venues, per bps (CAPACITY_BPS). */
  capacity: BlockCapacity[];
}

export type OutputEvent = DepthMetrics | AssetDepth | Alert;
export type AnyEvent = MarketEvent | OutputEvent;
