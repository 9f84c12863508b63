/**
 * Engine settings. Every threshold of the cascade detector is here; `engine/README.md` explains
 * each one. Times are event time (exchange timestamps), never the wall clock, except
 * `depthIntervalMs` which also paces the live-mode trailing flush.
 */
export interface EngineConfig {
  /** Conflation: at most one out.depth per symbol per this many ms of event time. */
  depthIntervalMs: number;
  /**
   * Conflation of the cross-venue `asset_depth` on out.depth: at most one per asset per this many ms
   * of event time. Assets are evaluated once per event-time second, so values below 1000 mean every second.
   */
  assetIntervalMs: number;
  /** Rolling window of the cascade detector, seconds. */
  windowSec: number;
  /** Horizon of baselines (EWMA time constant, p99 history, prior liquidation rate), seconds. */
  baselineSec: number;
  /** Seconds of event-time samples a symbol (or asset) needs before cascade alerts may fire. */
  warmupSec: number;
  /** Minimum liquidation notional (quote, USD-like) in the window for pressure on one symbol. */
  liqFloorSymbol: number;
  /** The same floor for the cross-venue asset aggregate. */
  liqFloorAsset: number;
  /** Percentile of the trailing window notionals the window must also reach (0.99 = p99). */
  liqPercentile: number;
  /** Pressure also needs window notional ≥ this fraction of the same-side 2 % depth baseline. */
  pressureDepthFraction: number;
  /** Acceleration: window rate ≥ this × the prior (baseline-horizon) rate. */
  accelerationFactor: number;
  /** Depth-collapse confirmation: 2 % depth ≤ baseline / this. */
  depthCollapseFactor: number;
  /** Spread confirmation: spread ≥ this × spread baseline. */
  spreadFactor: number;
  /** Price confirmation: mid moved at least this many % in the liquidation direction within the window. */
  priceMovePct: number;
  /** Hysteresis: an open alert counts a second as calm when window notional < this × pressure threshold. */
  clearFraction: number;
  /** … and resolves after this many consecutive calm seconds. */
  clearAfterSec: number;
  /** While open, an alert is re-published with fresh evidence at most this often (escalations go at once). */
  updateEverySec: number;
  /** Depth collapse on at least this many venues of an asset makes the asset (and its symbols) critical. */
  collapseVenues: number;
  /** After an event-time jump longer than this, skip the intermediate evaluations. */
  maxCatchUpSec: number;
  /** Raise feed-health alerts from md.status (stale / down). */
  feedAlerts: boolean;
}

export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  depthIntervalMs: 100,
  assetIntervalMs: 1000,
  windowSec: 60,
  baselineSec: 1800,
  warmupSec: 30,
  liqFloorSymbol: 100_000,
  liqFloorAsset: 250_000,
  liqPercentile: 0.99,
  pressureDepthFraction: 0.25,
  accelerationFactor: 5,
  depthCollapseFactor: 10,
  spreadFactor: 5,
  priceMovePct: 1,
  clearFraction: 0.5,
  clearAfterSec: 30,
  updateEverySec: 10,
  collapseVenues: 2,
  maxCatchUpSec: 3600,
  feedAlerts: true,
});

export function resolveConfig(partial: Partial<EngineConfig> = {}): EngineConfig {
  const cfg: EngineConfig = { ...DEFAULT_ENGINE_CONFIG };
  for (const [k, v] of Object.entries(partial) as [keyof EngineConfig, unknown][]) {
    if (v === undefined) continue;
    if (!(k in DEFAULT_ENGINE_CONFIG)) throw new Error(`unknown engine option ${k}`);
    if (typeof v !== typeof DEFAULT_ENGINE_CONFIG[k]) throw new Error(`engine option ${k} must be a ${typeof DEFAULT_ENGINE_CONFIG[k]}`);
    if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) throw new Error(`engine option ${k} must be a finite number ≥ 0`);
    (cfg as unknown as Record<string, unknown>)[k] = v;
  }
  if (cfg.windowSec < 1 || !Number.isInteger(cfg.windowSec)) throw new Error('windowSec must be an integer ≥ 1');
  if (cfg.baselineSec < cfg.windowSec || !Number.isInteger(cfg.baselineSec)) throw new Error('baselineSec must be an integer ≥ windowSec');
  if (cfg.liqPercentile > 1) throw new Error('liqPercentile must be in [0, 1]');
  return cfg;
}
