import { afterAll, describe, expect, it } from 'vitest';
import { findMarket, marketInfo } from './index.ts';
import { loadVenueMarkets } from '../../scripts/refresh-metadata.ts';
import { startSimulatedVenues, type SimulatedVenues } from '../sim/index.ts';

let sim: SimulatedVenues | null = null;
afterAll(async () => sim?.close());

describe('market metadata', () => {
  it('ships ccxt-derived entries for the default symbols', () => {
    expect(findMarket('binance-futures', 'BTC/USDT:USDT')).toMatchObject({ venueSymbol: 'BTCUSDT', linear: true, inverse: false, contractSize: 1, type: 'swap' });
    expect(findMarket('binance', 'ETH/USDT')).toMatchObject({ venueSymbol: 'ETHUSDT', type: 'spot' });
    expect(marketInfo('bitmex', 'BTC/USD:BTC')).toMatchObject({ inverse: true, linear: false, contractSize: 1 });
  });

  it('hand-written linear-contract facts carry their source; the sourced values are pinned', () => {
    // Values confirmed from recorded venue rows (ccxt's static test markets) and the venues' docs; see each `source`.
    expect(findMarket('bybit', 'BTC/USDT:USDT')).toMatchObject({ contractSize: 1, tickSize: 0.1, lotSize: 0.001 });
    expect(findMarket('bybit', 'ETH/USDT:USDT')).toMatchObject({ contractSize: 1, tickSize: 0.01, lotSize: 0.01 });
    expect(findMarket('bitmex', 'ETH/USDT:USDT')).toMatchObject({ contractSize: 0.00001, tickSize: 0.05, lotSize: 1000, linear: true });
    expect(findMarket('bitmex', 'BTC/USD:BTC')).toMatchObject({ contractSize: 1, tickSize: 0.5, lotSize: 100, inverse: true });
    expect(findMarket('hyperliquid', 'BTC/USDC:USDC')).toMatchObject({ lotSize: 0.00001, tickSize: 1 });
    expect(findMarket('hyperliquid', 'ETH/USDC:USDC')).toMatchObject({ lotSize: 0.0001, tickSize: 0.1 });
    for (const [venue, symbol] of [['bybit', 'BTC/USDT:USDT'], ['bybit', 'ETH/USDT:USDT'], ['bybit', 'SOL/USDT:USDT'], ['bitmex', 'ETH/USDT:USDT'], ['bitmex', 'BTC/USD:BTC'], ['hyperliquid', 'BTC/USDC:USDC'], ['hyperliquid', 'ETH/USDC:USDC']] as const) {
      expect(findMarket(venue, symbol)?.source, `${venue} ${symbol}`).toMatch(/confirmed|corrected|UNCONFIRMED|BITMEX\.0/);
    }
    // The one value no source confirmed says so.
    expect(findMarket('bybit', 'SOL/USDT:USDT')!.source).toMatch(/^UNCONFIRMED/);
  });

  it('ccxt loadMarkets works offline against the recordings and against the simulated venues', async () => {
    const offline = await loadVenueMarkets(
      { venue: 'binance-futures', ccxtId: 'binanceusdm', options: { fetchMarkets: ['linear'] }, fixture: 'BINANCE_FUTURES.0', symbols: ['BTC/USDT:USDT'] },
      { live: false },
    );
    expect(offline[0]).toMatchObject({ symbol: 'BTC/USDT:USDT', venueSymbol: 'BTCUSDT', contractSize: 1 });
    sim = await startSimulatedVenues({ venues: ['binance-futures', 'binance'], scenario: 'calm', paused: true });
    const fut = await loadVenueMarkets(
      { venue: 'binance-futures', ccxtId: 'binanceusdm', options: { fetchMarkets: ['linear'] }, fixture: '', symbols: ['BTC/USDT:USDT', 'SOL/USDT:USDT'] },
      { live: false, rest: sim.endpoints['binance-futures']!.restUrl },
    );
    expect(fut.map((m) => [m.symbol, m.tickSize, m.lotSize])).toEqual([
      ['BTC/USDT:USDT', 0.01, 0.001],
      ['SOL/USDT:USDT', findMarket('binance-futures', 'SOL/USDT:USDT')!.tickSize, findMarket('binance-futures', 'SOL/USDT:USDT')!.lotSize],
    ]);
    const spot = await loadVenueMarkets(
      { venue: 'binance', ccxtId: 'binance', options: { fetchMarkets: ['spot'] }, fixture: '', symbols: ['BTC/USDT'] },
      { live: false, rest: sim.endpoints.binance!.restUrl },
    );
    expect(spot[0]).toMatchObject({ symbol: 'BTC/USDT', type: 'spot', venueSymbol: 'BTCUSDT' });
  });
});
