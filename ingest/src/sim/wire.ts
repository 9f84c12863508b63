import type { Instrument } from './market.ts';

/** Small rendering helpers several simulated venues share. */

/** Epoch ms → RFC 3339 with microseconds (`2026-09-16T05:20:00.123000Z`), as Coinbase and Kraken v2 write times. */
export function rfc3339Micros(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/** Price ticks of one side of an instrument's book, best first, at most `limit`. */
export function sortedTicks(inst: Instrument, side: 'bid' | 'ask', limit = Infinity): number[] {
  const m = side === 'bid' ? inst.bids : inst.asks;
  const keys = [...m.keys()].sort(side === 'bid' ? (a, b) => b - a : (a, b) => a - b);
  return limit < keys.length ? keys.slice(0, limit) : keys;
}
