import type { VenueId } from '@depthwatch/schemas';
import { adapterFor } from '../venues/index.ts';
import { marketInfo } from '../metadata/index.ts';
import { toBase } from '../venues/util.ts';
import { Market, type InstrumentSpec } from './market.ts';
import type { ScenarioName } from './scenario.ts';
import type { SimFaults, SimVenue } from './front-end.ts';
import { binanceFuturesFrontEnd } from './venues/binance-futures.ts';
import { binanceFrontEnd } from './venues/binance.ts';
import { bybitFrontEnd } from './venues/bybit.ts';
import { okxFrontEnd } from './venues/okx.ts';
import { coinbaseFrontEnd } from './venues/coinbase.ts';
import { krakenFrontEnd } from './venues/kraken.ts';
import { deribitFrontEnd } from './venues/deribit.ts';
import { bitmexFrontEnd } from './venues/bitmex.ts';
import { hyperliquidFrontEnd } from './venues/hyperliquid.ts';

export { Market } from './market.ts';
export type { ScenarioName } from './scenario.ts';

/** Front-end factories per venue: a new simulated venue is one line here plus its front-end file. */
const FRONT_ENDS: Partial<Record<VenueId, (market: Market, seed: number) => SimVenue>> = {
  'binance-futures': binanceFuturesFrontEnd,
  binance: binanceFrontEnd,
  bybit: bybitFrontEnd,
  okx: okxFrontEnd,
  coinbase: coinbaseFrontEnd,
  kraken: krakenFrontEnd,
  deribit: deribitFrontEnd,
  bitmex: bitmexFrontEnd,
  hyperliquid: hyperliquidFrontEnd,
};

/** Start prices per asset so every venue's instrument of one asset sits on one price path. */
const START_MID: Record<string, number> = { BTC: 115_000, ETH: 4_500, SOL: 230 };

export interface SimOptions {
  venues: VenueId[];
  /** Per venue; default: the adapter's default symbols. */
  symbols?: Partial<Record<VenueId, string[]>>;
  seed?: number;
  scenario?: ScenarioName;
  /** Scenario seconds per wall second. */
  timeScale?: number;
  /** Start with the market paused (tests connect first, then resume, so counts reconcile exactly). */
  paused?: boolean;
  /** Tuning passed to the market model. */
  market?: Partial<Pick<import('./market.ts').MarketOptions, 'levelChangeRate' | 'tradeRate' | 'liquidationRate' | 'levelsPerSide' | 'stepMs'>>;
}

export type { SimFaults, SimVenue } from './front-end.ts';

export interface SimulatedVenues {
  endpoints: Partial<Record<VenueId, { restUrl: string; wsUrl: string }>>;
  market: Market;
  faults(venue: VenueId): SimFaults;
  /** Per-venue wire counters (what was actually sent after venue sampling, e.g. forceOrder). */
  sent(venue: VenueId): SimVenue['counters'];
  close(): Promise<void>;
}

/** The simulated market's instrument for one venue symbol, from the shipped metadata. */
export function instrumentSpec(venue: VenueId, symbol: string): InstrumentSpec {
  const adapter = adapterFor(venue);
  const m = marketInfo(venue, symbol, adapter.toVenueSymbol(symbol));
  return {
    venue,
    symbol,
    venueSymbol: adapter.toVenueSymbol(symbol),
    tick: m.tickSize ?? 0.01,
    // The market trades in base units: a linear contract venue's lot is lotSize contracts × contractSize.
    lot: m.linear && m.contractSize !== 1 ? toBase(m.lotSize ?? 1, m.contractSize) : (m.lotSize ?? 0.001),
    startMid: START_MID[m.base] ?? 100,
    derivative: m.type !== 'spot',
    inverse: m.inverse,
  };
}

export async function startSimulatedVenues(opts: SimOptions): Promise<SimulatedVenues> {
  const seed = opts.seed ?? 42;
  const instruments: InstrumentSpec[] = [];
  for (const venue of opts.venues) {
    const adapter = adapterFor(venue);
    for (const symbol of opts.symbols?.[venue] ?? adapter.defaultSymbols) {
      instruments.push(instrumentSpec(venue, symbol));
    }
  }
  const market = new Market({ instruments, seed, scenario: opts.scenario ?? 'default', timeScale: opts.timeScale ?? 1, ...opts.market });
  const fronts = new Map<VenueId, SimVenue>();
  for (const venue of opts.venues) {
    const make = FRONT_ENDS[venue];
    if (!make) throw new Error(`no simulated front end for ${venue}`);
    const fe = make(market, seed);
    await fe.start();
    fronts.set(venue, fe);
  }
  if (opts.paused) market.pause();
  market.start();
  const get = (venue: VenueId) => {
    const f = fronts.get(venue);
    if (!f) throw new Error(`venue ${venue} not simulated`);
    return f;
  };
  return {
    endpoints: Object.fromEntries([...fronts].map(([v, f]) => [v, { restUrl: f.fe.restUrl, wsUrl: f.fe.wsUrl }])),
    market,
    faults: (venue) => get(venue).faults(),
    sent: (venue) => get(venue).counters,
    async close() {
      market.stop();
      await Promise.all([...fronts.values()].map((f) => f.close()));
    },
  };
}
