import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { selectVenues } from './pipeline.ts';

describe('venue selection with ccxt fallback venues', () => {
  it('gives a ccxt venue every listed symbol (no defaults to filter by), native venues their listed defaults', () => {
    const c = loadConfig(['start', '--live', '--venues', 'binance-futures,ccxt:gate', '--symbols', 'BTC/USDT:USDT,DOGE/USDT:USDT'], {});
    expect(selectVenues(c)).toEqual([
      { venue: 'binance-futures', symbols: ['BTC/USDT:USDT', 'DOGE/USDT:USDT'] },
      { venue: 'ccxt:gate', symbols: ['BTC/USDT:USDT', 'DOGE/USDT:USDT'] },
    ]);
  });

  it.each([
    [['start', '--venues', 'ccxt:gate', '--symbols', 'BTC/USDT'], /collected through ccxt and has no simulated venue: add --live/],
    [['start', '--live', '--venues', 'ccxt:gate'], /has no default symbols: list them with --symbols/],
  ])('refuses %j with a clear error', (argv, message) => {
    expect(() => selectVenues(loadConfig(argv, {}))).toThrow(message);
  });
});
