export { CcxtSession, type CcxtFallbackOptions, type CcxtVenueConfig } from './session.ts';
export { CcxtVenueError, NATIVE_CCXT_IDS, checkCcxtVenue, nativeVenueOf, resolveCcxtVenue } from './venue-ids.ts';
