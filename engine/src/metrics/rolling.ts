/**
 * Small fixed-memory rolling statistics driven by event time (seconds since epoch, integers).
 * Nothing here reads a clock.
 */

/** Per-second buckets (sum, count, max) over the last `capacity` seconds. */
export class SecondBuckets {
  readonly capacity: number;
  private readonly secOf: Float64Array;
  private readonly sums: Float64Array;
  private readonly counts: Float64Array;
  private readonly maxes: Float64Array;
  /** Newest second written; −∞ before the first add. */
  newest = -Infinity;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.secOf = new Float64Array(capacity).fill(-1);
    this.sums = new Float64Array(capacity);
    this.counts = new Float64Array(capacity);
    this.maxes = new Float64Array(capacity);
  }

  /** Adds a value at second `sec`; returns false when it is older than the ring holds. */
  add(sec: number, value: number): boolean {
    if (sec <= this.newest - this.capacity) return false;
    const slot = sec % this.capacity;
    if (this.secOf[slot] !== sec) {
      this.secOf[slot] = sec;
      this.sums[slot] = 0;
      this.counts[slot] = 0;
      this.maxes[slot] = 0;
    }
    this.sums[slot] += value;
    this.counts[slot] += 1;
    if (value > this.maxes[slot]) this.maxes[slot] = value;
    if (sec > this.newest) this.newest = sec;
    return true;
  }

  /** Sum over seconds [from, to). */
  sum(from: number, to: number): number {
    let s = 0;
    const lo = Math.max(from, to - this.capacity);
    for (let sec = lo; sec < to; sec++) {
      const slot = sec % this.capacity;
      if (this.secOf[slot] === sec) s += this.sums[slot];
    }
    return s;
  }

  /** Sum, count and max over seconds [from, to). */
  stats(from: number, to: number): WindowStats {
    let s = 0;
    let c = 0;
    let m = 0;
    const lo = Math.max(from, to - this.capacity);
    for (let sec = lo; sec < to; sec++) {
      const slot = sec % this.capacity;
      if (this.secOf[slot] === sec) {
        s += this.sums[slot];
        c += this.counts[slot];
        if (this.maxes[slot] > m) m = this.maxes[slot];
      }
    }
    return { notional: s, count: c, largest: m };
  }
}

export interface WindowStats {
  notional: number;
  count: number;
  largest: number;
}

/**
 * Exponentially weighted mean with a warm-up: the weight of a new sample is max(1/n, 1/horizon),
 * so the first `horizon` samples give the plain running mean of everything seen (usable after a
 * few samples) and later samples a 1/horizon EWMA (time constant ≈ horizon samples).
 */
export class WarmEwma {
  n = 0;
  value = NaN;
  constructor(readonly horizon: number) {}

  update(x: number): void {
    if (!Number.isFinite(x)) return;
    this.n++;
    if (this.n === 1) {
      this.value = x;
      return;
    }
    const a = Math.max(1 / this.n, 1 / this.horizon);
    this.value += a * (x - this.value);
  }
}

/**
 * Ring of the last `capacity` samples with an on-demand percentile. With `delay` > 0 a sample only
 * enters the ring `delay` pushes later, so a ramp in progress (the current window) never raises
 * its own threshold; `discardPending` drops the samples still in the delay line (used when an
 * alert opens: the ramp that led to it is not "normal").
 */
export class SampleRing {
  private readonly values: Float64Array;
  private scratch: Float64Array;
  private next = 0;
  size = 0;
  private cachedAt = -1;
  private cachedQ = NaN;
  private cachedValue = NaN;
  private writes = 0;
  private readonly pending: number[] = [];

  constructor(
    readonly capacity: number,
    readonly delay = 0,
  ) {
    this.values = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  push(x: number): void {
    if (this.delay > 0) {
      this.pending.push(x);
      if (this.pending.length <= this.delay) return;
      x = this.pending.shift()!;
    }
    this.store(x);
  }

  discardPending(): void {
    this.pending.length = 0;
  }

  private store(x: number): void {
    this.values[this.next] = x;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    this.writes++;
  }

  /**
   * Nearest-rank percentile (q in [0, 1]) of the samples held; NaN when empty. The sort is cached
   * and refreshed every `refreshEvery` pushes (a 30-minute percentile moves slowly; this keeps the
   * per-second evaluation cheap), and always while fewer than `refreshEvery` × 10 samples exist.
   */
  percentile(q: number, refreshEvery = 10): number {
    if (this.size === 0) return NaN;
    if (this.cachedQ === q && (this.cachedAt === this.writes || (this.size >= refreshEvery * 10 && this.writes - this.cachedAt < refreshEvery))) {
      return this.cachedValue;
    }
    const s = this.scratch.subarray(0, this.size);
    s.set(this.values.subarray(0, this.size));
    s.sort();
    const rank = Math.min(this.size - 1, Math.max(0, Math.ceil(q * this.size) - 1));
    this.cachedAt = this.writes;
    this.cachedQ = q;
    this.cachedValue = s[rank];
    return s[rank];
  }
}

/** Ring of the last `capacity` per-second values (e.g. mid), indexed by second. */
export class SecondSeries {
  private readonly secOf: Float64Array;
  private readonly vals: Float64Array;
  constructor(readonly capacity: number) {
    this.secOf = new Float64Array(capacity).fill(-1);
    this.vals = new Float64Array(capacity);
  }

  set(sec: number, value: number): void {
    const slot = sec % this.capacity;
    this.secOf[slot] = sec;
    this.vals[slot] = value;
  }

  /** Max and min over seconds [from, to] held; NaN when none. */
  range(from: number, to: number): { max: number; min: number } {
    let max = NaN;
    let min = NaN;
    const lo = Math.max(from, to - this.capacity + 1);
    for (let sec = lo; sec <= to; sec++) {
      const slot = sec % this.capacity;
      if (this.secOf[slot] !== sec) continue;
      const v = this.vals[slot];
      if (!(v <= max)) max = v;
      if (!(v >= min)) min = v;
    }
    return { max, min };
  }
}
