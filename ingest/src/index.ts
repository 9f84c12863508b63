export { startIngest, type IngestOptions, type IngestStage, type IngestVenueConfig, type VenueConfig } from './collector.ts';
export { CcxtVenueError, NATIVE_CCXT_IDS, checkCcxtVenue, resolveCcxtVenue } from './ccxt/venue-ids.ts';
export type { CcxtFallbackOptions, CcxtSession } from './ccxt/session.ts';
export { VENUES, DEFAULT_SYMBOLS, adapterFor } from './venues/index.ts';
export type * from './sync/adapter.ts';
export { startSimulatedVenues, type SimulatedVenues, type SimOptions } from './sim/index.ts';
export { marketInfo, findMarket, marketsOf, type MarketInfo } from './metadata/index.ts';
