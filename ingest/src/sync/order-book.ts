import type { Level } from '@depthwatch/schemas';

/**
 * One side-keyed L2 book. Levels live in a Map (O(1) apply on the hot path); sorting happens only
 * when a caller asks for a view (snapshots, checksums, test comparisons), which is rare.
 */
export class OrderBook {
  readonly bids = new Map<number, number>();
  readonly asks = new Map<number, number>();

  clear(): void {
    this.bids.clear();
    this.asks.clear();
  }

  /** Replaces the whole book (REST snapshot, in-band snapshot, full-book venues). */
  load(bids: readonly Level[], asks: readonly Level[]): void {
    this.clear();
    for (const [p, q] of bids) if (q > 0) this.bids.set(p, q);
    for (const [p, q] of asks) if (q > 0) this.asks.set(p, q);
  }

  /**
   * Absolute quantities; 0 deletes. A delete of a level we don't hold is normal on Binance and
   * Coinbase, so it is ignored unless `strict` (BitMEX: an update for an unknown id means corruption).
   * Returns false when strict and a change named an unknown level.
   */
  apply(bids: readonly Level[], asks: readonly Level[], strict = false): boolean {
    return applySide(this.bids, bids, strict) && applySide(this.asks, asks, strict);
  }

  /**
   * Keeps only the best `depth` levels per side (venues that never send out-of-window deletes).
   * Returns the levels dropped, as deletes, so they can be published too.
   */
  truncate(depth: number): { bids: Level[]; asks: Level[] } {
    const cut = (side: 'bid' | 'ask'): Level[] => {
      const m = side === 'bid' ? this.bids : this.asks;
      if (depth <= 0 || m.size <= depth) return [];
      const out = this.sorted(side).slice(depth);
      for (const lv of out) {
        m.delete(lv[0]);
        lv[1] = 0;
      }
      return out;
    };
    return { bids: cut('bid'), asks: cut('ask') };
  }

  sorted(side: 'bid' | 'ask', limit = Infinity): Level[] {
    const src = side === 'bid' ? this.bids : this.asks;
    const keys = [...src.keys()].sort(side === 'bid' ? (a, b) => b - a : (a, b) => a - b);
    const n = Math.min(limit, keys.length);
    const out: Level[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = [keys[i], src.get(keys[i])!];
    return out;
  }

  bestBid(): number | null {
    let best: number | null = null;
    for (const p of this.bids.keys()) if (best === null || p > best) best = p;
    return best;
  }

  bestAsk(): number | null {
    let best: number | null = null;
    for (const p of this.asks.keys()) if (best === null || p < best) best = p;
    return best;
  }
}

function applySide(side: Map<number, number>, levels: readonly Level[], strict: boolean): boolean {
  let ok = true;
  for (let i = 0; i < levels.length; i++) {
    const [p, q] = levels[i];
    if (q === 0) {
      if (!side.delete(p) && strict) ok = false;
    } else {
      if (strict && !side.has(p)) ok = false;
      side.set(p, q);
    }
  }
  return ok;
}
