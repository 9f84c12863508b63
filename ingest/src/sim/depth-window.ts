import type { Instrument } from './market.ts';
import { sortedTicks } from './wire.ts';

/**
 * A venue's view of an instrument's book limited to the best `depth` levels per side (Bybit
 * `orderbook.200`, OKX `books` 400): what a snapshot shows and how a step's changes look on the
 * wire. Levels entering the window (a better level was removed) are sent as inserts; levels leaving
 * it are sent as deletes when `sendExits` (OKX keeps its window itself) or silently dropped
 * (Bybit: the client truncates to the subscribed depth). Shared by every windowed front end.
 */
export type TickLevels = Map<number, number>; // price ticks → lots

export class DepthWindow {
  private bids: TickLevels = new Map();
  private asks: TickLevels = new Map();

  constructor(
    private readonly inst: Instrument,
    readonly depth: number,
    private readonly sendExits: boolean,
  ) {
    this.bids = this.top('bid');
    this.asks = this.top('ask');
  }

  /** The window as published so far, best first (what a snapshot carries). */
  view(side: 'bid' | 'ask'): [number, number][] {
    const m = side === 'bid' ? this.bids : this.asks;
    return [...m].sort(side === 'bid' ? (a, b) => b[0] - a[0] : (a, b) => a[0] - b[0]);
  }

  /** Recompute the window after a market step: the changes to publish (lots 0 = delete). */
  advance(): { bids: TickLevels; asks: TickLevels } {
    const nb = this.top('bid');
    const na = this.top('ask');
    const out = { bids: this.diff(this.bids, nb, this.inst.bids), asks: this.diff(this.asks, na, this.inst.asks) };
    this.bids = nb;
    this.asks = na;
    return out;
  }

  private top(side: 'bid' | 'ask'): TickLevels {
    const src = side === 'bid' ? this.inst.bids : this.inst.asks;
    return new Map(sortedTicks(this.inst, side, this.depth).map((t) => [t, src.get(t)!]));
  }

  private diff(prev: TickLevels, next: TickLevels, book: TickLevels): TickLevels {
    const ch: TickLevels = new Map();
    for (const [t, lots] of next) if (prev.get(t) !== lots) ch.set(t, lots);
    for (const t of prev.keys()) {
      if (next.has(t)) continue;
      // Gone from the book: always a delete. Still in the book but pushed out of the window: venue-specific.
      if (!book.has(t) || this.sendExits) ch.set(t, 0);
    }
    return ch;
  }
}
