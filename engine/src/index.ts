export { startEngine, type EngineOptions, type EngineStage } from './engine.ts';
export { EngineCore, FLOW_WINDOWS_SEC, type EngineOutput } from './core.ts';
export { DEFAULT_ENGINE_CONFIG, resolveConfig, type EngineConfig } from './config.ts';
export { L2Book, BookSide, BAND_COUNT, type BookSideName } from './book/l2-book.ts';
export { computeDepthMetrics, sideSlippageBps, sideCapacityQuote, isTwoSided, BAND_2PCT, BAND_1PCT } from './metrics/depth.ts';
export { judge, CascadeTracker, pressureThreshold, type CascadeInput, type CascadeVerdict, type Condition } from './alerts/cascade.ts';
export { FeedTracker, FEED_ALERT_SEVERITY } from './alerts/feed.ts';
export type { AssetStats, Baselines, DerivativesState, LiquidationFlowWindow, SymbolStats } from './types.ts';
