export { startIngest, type IngestOptions, type IngestStage, type VenueConfig } from './collector.ts';
export { VENUES, DEFAULT_SYMBOLS, adapterFor } from './venues/index.ts';
export type * from './sync/adapter.ts';
export { startSimulatedVenues, type SimulatedVenues, type SimOptions } from './sim/index.ts';
export { marketInfo, findMarket, marketsOf, type MarketInfo } from './metadata/index.ts';
