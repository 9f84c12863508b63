import { BAND_PCTS, type Level } from '@depthwatch/schemas';

/**
 * Price-level (L2) order book with depth bands maintained incrementally.
 *
 * Layout: one `BookSide` per side keeps parallel Float64Arrays of keys and sizes sorted ascending
 * with the BEST level at the END. The key is the price for bids and −price for asks, so both sides
 * share one code path (best = largest key). Updates near the top of the book therefore shift only
 * the few elements above them, lookups are a binary search, and steady-state updates allocate
 * nothing (arrays grow by doubling).
 *
 * Depth bands (±BAND_PCTS % of mid) are kept per side as counts of top levels inside each band plus
 * compensated (Neumaier) base and quote sums over disjoint "segments" (segment k = band k minus band
 * k−1), so a level update touches one segment. When mid moves, only the levels crossing a band edge
 * are walked in or out. Sums are recomputed exactly from the arrays every few thousand operations
 * (amortised O(1)) and reset to exact zero when a segment empties, so floating drift stays bounded.
 */

export type BookSideName = 'bid' | 'ask';

export const BAND_COUNT = BAND_PCTS.length;
const BAND_LO: number[] = BAND_PCTS.map((p) => 1 - p / 100);
const BAND_HI: number[] = BAND_PCTS.map((p) => 1 + p / 100);

/** Minimum number of level operations between exact recomputes of the band sums. */
const RECOMPUTE_MIN_OPS = 8192;

export class BookSide {
  /** Ascending keys (price for bids, −price for asks); best level at index n−1. */
  keys: Float64Array;
  sizes: Float64Array;
  n = 0;
  /** +1 for bids, −1 for asks: price = sign × key. */
  readonly sign: 1 | -1;
  /** Cumulative number of top levels inside band k (non-decreasing in k). */
  readonly cnt = new Int32Array(BAND_COUNT);
  /** Segment sums with Neumaier compensation terms. */
  readonly segBase = new Float64Array(BAND_COUNT);
  readonly segBaseC = new Float64Array(BAND_COUNT);
  readonly segQuote = new Float64Array(BAND_COUNT);
  readonly segQuoteC = new Float64Array(BAND_COUNT);
  /** Band edge keys: a level is inside band k when key ≥ edge[k]. +∞ when mid is undefined. */
  readonly edge = new Float64Array(BAND_COUNT).fill(Infinity);
  ops = 0;

  constructor(sign: 1 | -1, capacity = 64) {
    this.sign = sign;
    this.keys = new Float64Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  /** First index whose key is ≥ key (n when none). Searches from the top end, where most updates land. */
  lowerBound(key: number): number {
    const keys = this.keys;
    let lo = 0;
    let hi = this.n;
    // Most updates are near the top: gallop down from the best level, then binary search.
    let step = 8;
    while (step < hi) {
      if (keys[hi - step] < key) {
        lo = hi - step + 1;
        break;
      }
      hi -= step;
      step <<= 2;
    }
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private grow(): void {
    const cap = this.keys.length * 2;
    const k = new Float64Array(cap);
    const s = new Float64Array(cap);
    k.set(this.keys.subarray(0, this.n));
    s.set(this.sizes.subarray(0, this.n));
    this.keys = k;
    this.sizes = s;
  }

  /** The segment a level at `depth` (0 = best) belongs to; BAND_COUNT when outside every band. */
  private segOf(depth: number): number {
    const cnt = this.cnt;
    let j = 0;
    while (j < BAND_COUNT && depth >= cnt[j]) j++;
    return j;
  }

  /** Adds to segment j with Knuth's branch-free TwoSum: the rounding error of each add goes to the compensation term. */
  private addSeg(j: number, base: number, quote: number): void {
    const sb = this.segBase[j];
    const tb = sb + base;
    const vb = tb - sb;
    this.segBaseC[j] += sb - (tb - vb) + (base - vb);
    this.segBase[j] = tb;
    const sq = this.segQuote[j];
    const tq = sq + quote;
    const vq = tq - sq;
    this.segQuoteC[j] += sq - (tq - vq) + (quote - vq);
    this.segQuote[j] = tq;
  }

  /**
   * Two adds to segment j in one pass (an in-place size change: remove the old contribution, add the
   * new one). The same TwoSum sequence as two addSeg calls, so bit-identical results, but each
   * segment word is loaded and stored once.
   */
  private addSeg2(j: number, base1: number, quote1: number, base2: number, quote2: number): void {
    let sb = this.segBase[j];
    let cb = this.segBaseC[j];
    let t = sb + base1;
    let v = t - sb;
    cb += sb - (t - v) + (base1 - v);
    sb = t;
    t = sb + base2;
    v = t - sb;
    cb += sb - (t - v) + (base2 - v);
    this.segBase[j] = t;
    this.segBaseC[j] = cb;
    let sq = this.segQuote[j];
    let cq = this.segQuoteC[j];
    t = sq + quote1;
    v = t - sq;
    cq += sq - (t - v) + (quote1 - v);
    sq = t;
    t = sq + quote2;
    v = t - sq;
    cq += sq - (t - v) + (quote2 - v);
    this.segQuote[j] = t;
    this.segQuoteC[j] = cq;
  }

  private clearSegIfEmpty(j: number): void {
    const inner = j === 0 ? 0 : this.cnt[j - 1];
    if (this.cnt[j] === inner) {
      this.segBase[j] = 0;
      this.segBaseC[j] = 0;
      this.segQuote[j] = 0;
      this.segQuoteC[j] = 0;
    }
  }

  /** Sets (size > 0) or deletes (size 0) one level. Returns false when the level was invalid. */
  set(price: number, size: number): boolean {
    if (!(price > 0) || !(size >= 0) || price === Infinity || size === Infinity) return false;
    const key = this.sign * price;
    const i = this.lowerBound(key);
    const n = this.n;
    this.ops++;
    if (i < n && this.keys[i] === key) {
      const depth = n - 1 - i;
      const j = this.segOf(depth);
      const old = this.sizes[i];
      if (size === 0) {
        // delete
        const keys = this.keys;
        const sizes = this.sizes;
        if (n - i < 32) {
          for (let x = i + 1; x < n; x++) {
            keys[x - 1] = keys[x];
            sizes[x - 1] = sizes[x];
          }
        } else {
          keys.copyWithin(i, i + 1, n);
          sizes.copyWithin(i, i + 1, n);
        }
        this.n = n - 1;
        if (j < BAND_COUNT) {
          for (let k = j; k < BAND_COUNT; k++) this.cnt[k]--;
          this.addSeg(j, -old, -price * old);
          this.clearSegIfEmpty(j);
        }
      } else {
        this.sizes[i] = size;
        if (j < BAND_COUNT) {
          // Two exact-compensated adds: `size − old` itself would round when the sizes differ in scale.
          this.addSeg2(j, -old, -price * old, size, price * size);
        }
      }
      return true;
    }
    if (size === 0) return true; // delete of an unknown level: ignored
    if (n === this.keys.length) this.grow();
    const keys = this.keys;
    const sizes = this.sizes;
    if (n - i < 32) {
      for (let x = n; x > i; x--) {
        keys[x] = keys[x - 1];
        sizes[x] = sizes[x - 1];
      }
    } else {
      keys.copyWithin(i + 1, i, n);
      sizes.copyWithin(i + 1, i, n);
    }
    keys[i] = key;
    sizes[i] = size;
    this.n = n + 1;
    const depth = n - i; // depth of the new level once inserted
    const j = this.segOf(depth);
    if (j < BAND_COUNT) {
      for (let k = j; k < BAND_COUNT; k++) this.cnt[k]++;
      this.addSeg(j, size, price * size);
    }
    return true;
  }

  /** Drops the deepest levels until at most `limit` remain. */
  trim(limit: number): void {
    while (this.n > limit) {
      const price = this.sign * this.keys[0];
      this.set(price, 0);
    }
  }

  /** Moves band edges to a new mid, walking only the levels that cross an edge. */
  setEdges(mid: number): void {
    const edge = this.edge;
    if (!(mid > 0) || mid === Infinity) {
      this.resetBands();
      return;
    }
    const factors = this.sign === 1 ? BAND_LO : BAND_HI;
    for (let k = 0; k < BAND_COUNT; k++) edge[k] = this.sign * (mid * factors[k]);
    const keys = this.keys;
    const sizes = this.sizes;
    const cnt = this.cnt;
    const n = this.n;
    // Shrink pass, inner bands first: the deepest member leaves band k for the next band holding it.
    for (let k = 0; k < BAND_COUNT; k++) {
      const e = edge[k];
      while (cnt[k] > 0 && keys[n - cnt[k]] < e) {
        const idx = n - cnt[k];
        cnt[k]--;
        const size = sizes[idx];
        const quote = this.sign * keys[idx] * size;
        this.addSeg(k, -size, -quote);
        this.clearSegIfEmpty(k);
        const to = this.segOf(cnt[k]);
        if (to < BAND_COUNT) this.addSeg(to, size, quote);
      }
    }
    // Expand pass, outer bands first: the next level below joins band k from wherever it was.
    for (let k = BAND_COUNT - 1; k >= 0; k--) {
      const e = edge[k];
      while (cnt[k] < n && keys[n - 1 - cnt[k]] >= e) {
        const depth = cnt[k];
        const idx = n - 1 - depth;
        const from = this.segOf(depth);
        const size = sizes[idx];
        const quote = this.sign * keys[idx] * size;
        if (from < BAND_COUNT) {
          this.addSeg(from, -size, -quote);
        }
        cnt[k]++;
        if (from < BAND_COUNT) this.clearSegIfEmpty(from);
        this.addSeg(k, size, quote);
      }
    }
    if (this.ops >= RECOMPUTE_MIN_OPS && this.ops >= 4 * cnt[BAND_COUNT - 1]) this.recompute();
  }

  resetBands(): void {
    this.cnt.fill(0);
    this.segBase.fill(0);
    this.segBaseC.fill(0);
    this.segQuote.fill(0);
    this.segQuoteC.fill(0);
    this.edge.fill(Infinity);
  }

  /** Exact recompute of the segment sums from the arrays (the counts are already exact). */
  recompute(): void {
    this.ops = 0;
    const keys = this.keys;
    const sizes = this.sizes;
    const n = this.n;
    let depth = 0;
    for (let k = 0; k < BAND_COUNT; k++) {
      let b = 0;
      let bc = 0;
      let q = 0;
      let qc = 0;
      const end = this.cnt[k];
      for (; depth < end; depth++) {
        const idx = n - 1 - depth;
        const size = sizes[idx];
        const quote = this.sign * keys[idx] * size;
        let t = b + size;
        if (Math.abs(b) >= Math.abs(size)) bc += b - t + size;
        else bc += size - t + b;
        b = t;
        t = q + quote;
        if (Math.abs(q) >= Math.abs(quote)) qc += q - t + quote;
        else qc += quote - t + q;
        q = t;
      }
      this.segBase[k] = b;
      this.segBaseC[k] = bc;
      this.segQuote[k] = q;
      this.segQuoteC[k] = qc;
    }
  }

  bandBase(k: number): number {
    let s = 0;
    for (let j = 0; j <= k; j++) s += this.segBase[j] + this.segBaseC[j];
    return s;
  }

  bandQuote(k: number): number {
    let s = 0;
    for (let j = 0; j <= k; j++) s += this.segQuote[j] + this.segQuoteC[j];
    return s;
  }

  /** Replaces the side's content; levels need not be sorted. Later duplicates win. */
  load(levels: Level[]): number {
    this.resetBands();
    this.ops = 0;
    let invalid = 0;
    const m = levels.length;
    while (this.keys.length < m) this.grow();
    // Fast path: input already sorted best-first or worst-first without duplicates.
    let ascending = true;
    let descending = true;
    let prev = NaN;
    for (let i = 0; i < m; i++) {
      const p = levels[i][0];
      const s = levels[i][1];
      if (!(p > 0) || !(s > 0) || p === Infinity || s === Infinity) {
        ascending = descending = false;
        break;
      }
      const key = this.sign * p;
      if (i > 0) {
        if (!(key > prev)) ascending = false;
        if (!(key < prev)) descending = false;
      }
      prev = key;
    }
    if (ascending || descending) {
      for (let i = 0; i < m; i++) {
        const lv = levels[ascending ? i : m - 1 - i];
        this.keys[i] = this.sign * lv[0];
        this.sizes[i] = lv[1];
      }
      this.n = m;
      return 0;
    }
    const byKey = new Map<number, number>();
    for (let i = 0; i < m; i++) {
      const p = levels[i][0];
      const s = levels[i][1];
      if (!(p > 0) || !(s >= 0) || p === Infinity || s === Infinity) {
        invalid++;
        continue;
      }
      if (s === 0) byKey.delete(this.sign * p);
      else byKey.set(this.sign * p, s);
    }
    const sorted = [...byKey.keys()].sort((a, b) => a - b);
    for (let i = 0; i < sorted.length; i++) {
      this.keys[i] = sorted[i];
      this.sizes[i] = byKey.get(sorted[i])!;
    }
    this.n = sorted.length;
    return invalid;
  }

  /** Price of the level at `depth` (0 = best); NaN when absent. */
  priceAt(depth: number): number {
    return depth >= 0 && depth < this.n ? this.sign * this.keys[this.n - 1 - depth] : NaN;
  }

  sizeAt(depth: number): number {
    return depth >= 0 && depth < this.n ? this.sizes[this.n - 1 - depth] : NaN;
  }
}

export class L2Book {
  readonly venue: string;
  readonly symbol: string;
  /** Levels per side the feed carries; 0 = full depth. */
  depthLimit = 0;
  readonly bids = new BookSide(1);
  readonly asks = new BookSide(-1);
  /** Levels rejected as invalid (non-finite, non-positive price, negative size). */
  invalidLevels = 0;
  /** True once a snapshot has been applied. */
  initialized = false;

  constructor(venue: string, symbol: string) {
    this.venue = venue;
    this.symbol = symbol;
  }

  applySnapshot(bids: Level[], asks: Level[], depthLimit: number): void {
    this.depthLimit = depthLimit > 0 ? depthLimit : 0;
    this.invalidLevels += this.bids.load(bids);
    this.invalidLevels += this.asks.load(asks);
    if (this.depthLimit > 0) {
      this.bids.trim(this.depthLimit);
      this.asks.trim(this.depthLimit);
    }
    this.initialized = true;
    const mid = this.mid();
    this.bids.setEdges(mid);
    this.asks.setEdges(mid);
    this.bids.recompute();
    this.asks.recompute();
  }

  /** Applies a batch of level changes (size 0 deletes; deleting an unknown level is ignored). */
  applyDelta(bids: Level[], asks: Level[]): void {
    const b = this.bids;
    const a = this.asks;
    for (let i = 0; i < bids.length; i++) {
      const lv = bids[i];
      if (!b.set(lv[0], lv[1])) this.invalidLevels++;
    }
    for (let i = 0; i < asks.length; i++) {
      const lv = asks[i];
      if (!a.set(lv[0], lv[1])) this.invalidLevels++;
    }
    if (this.depthLimit > 0) {
      if (b.n > this.depthLimit) b.trim(this.depthLimit);
      if (a.n > this.depthLimit) a.trim(this.depthLimit);
    }
    const mid = this.mid();
    b.setEdges(mid);
    a.setEdges(mid);
  }

  bestBid(): number {
    const b = this.bids;
    return b.n > 0 ? b.keys[b.n - 1] : NaN;
  }

  bestAsk(): number {
    const a = this.asks;
    return a.n > 0 ? -a.keys[a.n - 1] : NaN;
  }

  /** (bestBid + bestAsk) / 2; NaN when a side is empty. */
  mid(): number {
    return (this.bestBid() + this.bestAsk()) / 2;
  }

  get bidCount(): number {
    return this.bids.n;
  }

  get askCount(): number {
    return this.asks.n;
  }

  side(side: BookSideName): BookSide {
    return side === 'bid' ? this.bids : this.asks;
  }

  /** Up to n levels, best first. */
  topLevels(side: BookSideName, n: number): Level[] {
    const s = this.side(side);
    const m = Math.min(n, s.n);
    const out: Level[] = new Array(m);
    for (let d = 0; d < m; d++) {
      const idx = s.n - 1 - d;
      out[d] = [s.sign * s.keys[idx], s.sizes[idx]];
    }
    return out;
  }

  /** Base size within band k (index into BAND_PCTS) on one side. */
  bandBase(side: BookSideName, k: number): number {
    return this.side(side).bandBase(k);
  }

  /** Quote notional (Σ price × size) within band k on one side. */
  bandQuote(side: BookSideName, k: number): number {
    return this.side(side).bandQuote(k);
  }

  /** Levels inside band k on one side. */
  bandLevels(side: BookSideName, k: number): number {
    return this.side(side).cnt[k];
  }

  /**
   * The band's edge lies beyond the deepest level held by a partial-depth feed (depthLimit > 0),
   * so the band figure is a lower bound. Full-depth books (depthLimit 0) are never truncated.
   */
  bandTruncated(side: BookSideName, k: number): boolean {
    if (this.depthLimit === 0) return false;
    const s = this.side(side);
    if (s.n === 0) return true;
    if (s.cnt[k] < s.n) return false;
    return s.keys[0] > s.edge[k];
  }
}
