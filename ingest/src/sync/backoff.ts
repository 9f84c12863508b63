/**
 * Exponential backoff with full jitter: spreads reconnect storms (many collectors, one venue outage)
 * so a recovering venue is not hit by every client at the same instant.
 */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  get attempts(): number {
    return this.attempt;
  }

  next(): number {
    const cap = Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    const r = (this.opts.random ?? Math.random)();
    // Never below half the cap: full jitter down to 0 would allow tight loops.
    return Math.round(cap / 2 + (r * cap) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Rolling median over the last `size` samples (feed lag, clock offset): robust to single slow frames. */
export class RollingMedian {
  private readonly buf: number[] = [];
  private i = 0;
  constructor(private readonly size = 64) {}

  push(v: number): void {
    if (this.buf.length < this.size) this.buf.push(v);
    else {
      this.buf[this.i] = v;
      this.i = (this.i + 1) % this.size;
    }
  }

  get value(): number | null {
    if (this.buf.length === 0) return null;
    const s = [...this.buf].sort((a, b) => a - b);
    return s[s.length >> 1];
  }
}
