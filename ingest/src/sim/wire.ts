import type { Instrument } from './market.ts';

/** Small rendering helpers several simulated venues share. */

/** Epoch ms → RFC 3339 with microseconds (`2026-09-16T05:20:00.123000Z`), as Coinbase and Kraken v2 write times. */
export function rfc3339Micros(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000Z');
}

/** Price ticks of one side of an instrument's book, best first, at most `limit` (from the market's sorted index). */
export function sortedTicks(inst: Instrument, side: 'bid' | 'ask', limit = Infinity): number[] {
  return inst.ticks(side, limit);
}

/**
 * One side's level changes of a market step, classified against the ticks a subscriber already
 * holds (`held` is updated): `new` for a level it does not hold, `change` for one it does, `delete`
 * for a removed one it holds. Venues that name the action per level (Deribit, BitMEX) render from this.
 */
export function classifyLevels(held: Set<number>, changes: Map<number, number>): { tick: number; lots: number; action: 'new' | 'change' | 'delete' }[] {
  const out: { tick: number; lots: number; action: 'new' | 'change' | 'delete' }[] = [];
  for (const [tick, lots] of changes) {
    if (lots === 0) {
      // Added and removed within one step: never published, so nothing to delete.
      if (held.delete(tick)) out.push({ tick, lots, action: 'delete' });
    } else {
      out.push({ tick, lots, action: held.has(tick) ? 'change' : 'new' });
      held.add(tick);
    }
  }
  return out;
}
