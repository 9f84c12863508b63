import type { AssetDepth, BlockCapacity, DepthMetrics, LiquidationFlowWindow } from '@depthwatch/schemas';

/**
 * Engine-local views that go beyond the shared schema, readable in-process through the engine
 * handle. The bus carries schema-valid DepthMetrics / AssetDepth / Alert only: the per-asset part
 * of `AssetStats` is published as `asset_depth`; the rest is what a further schema extension would
 * add (see the proposal in engine/README.md).
 */

/** Liquidation flow over one rolling window (the schema type, also carried by `asset_depth`). */
export type { LiquidationFlowWindow };

export interface DerivativesState {
  ts: number;
  markPrice: number | null;
  indexPrice: number | null;
  lastPrice: number | null;
  fundingRate: number | null;
  nextFundingTime: number | null;
  /** Base units. */
  openInterest: number | null;
  /** openInterest × (mark ?? last). */
  openInterestQuote: number | null;
  /** (mark ?? last − index) / index in bps. */
  basisBps: number | null;
}

export interface Baselines {
  /** Samples (seconds with a two-sided book) seen; alerts need `warmupSec` of them. */
  samples: number;
  warm: boolean;
  depth2PctBidQuote: number | null;
  depth2PctAskQuote: number | null;
  spreadBps: number | null;
  /** Current 2 % depth ÷ baseline (0.1 = "down 10× from normal"). */
  depth2PctBidRatio: number | null;
  depth2PctAskRatio: number | null;
  spreadRatio: number | null;
  /** Prior liquidation rates (quote/s) over the baseline horizon, per book side hit. */
  liqRateBid: number | null;
  liqRateAsk: number | null;
}

export interface SymbolStats {
  venue: string;
  symbol: string;
  asset: string;
  depth: DepthMetrics | null;
  liquidations: LiquidationFlowWindow[];
  derivatives: DerivativesState | null;
  baselines: Baselines;
  /** Latest feed state from md.status is usable (not stale/down). */
  feedHealthy: boolean;
}

/**
 * Cross-venue aggregate of one asset over symbols quoted in USD-like currencies: the published
 * `asset_depth` event's figures plus the symbols that went into them.
 */
export interface AssetStats extends Omit<AssetDepth, 'type' | 'venue' | 'symbol' | 'seq'> {
  symbols: string[];
}
