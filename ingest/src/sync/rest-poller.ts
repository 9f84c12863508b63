import type { VenueId } from '@depthwatch/schemas';
import type { Logger } from '@depthwatch/ops';
import type { ParseContext, RestPoll, TickerField, TickerMsg } from './adapter.ts';
import { ingestMetrics as M } from './metrics.ts';
import { assertWellFormed } from './well-formed.ts';

/**
 * Runs an adapter's polled REST channels (adapter.polls) for one venue: one job per (symbol, poll),
 * at most `concurrency` requests in flight. Requests are issued only from the session's recorded
 * inputs — the housekeeping tick and the answer to an earlier poll — and every decision is a pure
 * function of those inputs' times, so a replay (same ticks, same answers at the same positions)
 * issues the same requests and publishes the same tickers. Hence no timers here and no jitter.
 *
 * Per-channel staleness: a job whose last good answer is older than `staleAfterMs` has its fields
 * reset to null (the next ticker says "unknown" rather than repeating an old number). Failures are
 * counted and logged, retried after a growing multiple of the interval, and never reach book sync
 * or the feed's status.
 */

export interface RestAnswer {
  ok: boolean;
  /** Body when ok, else the error message. */
  text: string;
}

export interface RestPollerOptions {
  venue: VenueId;
  polls: readonly RestPoll[];
  /** Symbols to poll, in a fixed order (ties are issued in it). */
  targets: readonly { symbol: string; venueSymbol: string }[];
  restBase: string;
  /** Interval overrides by poll name. */
  intervalMs?: Readonly<Partial<Record<string, number>>>;
  concurrency: number;
  ctx: ParseContext;
  log: Logger;
  /** GET `url`; `answer` runs at the answer's receive time with the session clock pinned, never after close. */
  get(url: string, answer: (a: RestAnswer, ts: number) => void): void;
  deliver(symbol: string, msg: TickerMsg, recvTs: number): void;
  expire(symbol: string, fields: readonly TickerField[]): void;
}

interface Job {
  poll: RestPoll;
  symbol: string;
  url: string;
  intervalMs: number;
  staleAfterMs: number;
  due: number;
  inflight: boolean;
  failures: number;
  lastOk: number | null;
  expired: boolean;
}

/** A poll older than this many intervals is stale; failures back off up to MAX_BACKOFF intervals. */
const STALE_INTERVALS = 3;
const MAX_BACKOFF = 8;
const LOG_EVERY_MS = 30_000;

export class RestPoller {
  private readonly jobs: Job[] = [];
  private inflight = 0;
  private since: number | null = null;
  private lastLog = -Infinity;
  private suppressed = 0;
  readonly counters = { requests: 0, failures: 0 };

  constructor(private readonly o: RestPollerOptions) {
    for (const poll of o.polls) {
      const intervalMs = o.intervalMs?.[poll.name] ?? poll.intervalMs;
      if (!(intervalMs > 0)) throw new Error(`${o.venue}: poll ${poll.name} interval must be positive, got ${intervalMs}`);
      for (const t of o.targets) {
        this.jobs.push({
          poll,
          symbol: t.symbol,
          url: poll.url(o.restBase, t.venueSymbol),
          intervalMs,
          staleAfterMs: STALE_INTERVALS * intervalMs,
          due: -Infinity,
          inflight: false,
          failures: 0,
          lastOk: null,
          expired: false,
        });
      }
    }
  }

  get size(): number {
    return this.jobs.length;
  }

  /** Housekeeping tick (session clock `now`): expire stale fields, issue due polls, export ages. */
  tick(now: number): void {
    if (this.jobs.length === 0) return;
    this.since ??= now;
    for (const j of this.jobs) {
      if (j.lastOk !== null && !j.expired && now - j.lastOk > j.staleAfterMs) {
        j.expired = true;
        this.o.expire(j.symbol, j.poll.fields);
        this.warn(now, { symbol: j.symbol, poll: j.poll.name, ageMs: now - j.lastOk }, 'polled data stale: fields reset to null');
      }
    }
    this.pump(now);
    const age = new Map<string, number>();
    for (const j of this.jobs) age.set(j.poll.name, Math.max(age.get(j.poll.name) ?? 0, now - (j.lastOk ?? this.since)));
    for (const [poll, ms] of age) M.pollAge.set({ venue: this.o.venue, poll }, ms / 1000);
  }

  private pump(now: number): void {
    for (const j of this.jobs) {
      if (this.inflight >= this.o.concurrency) return;
      if (!j.inflight && now >= j.due) this.issue(j);
    }
  }

  private issue(j: Job): void {
    j.inflight = true;
    this.inflight++;
    this.counters.requests++;
    M.pollRequests.inc({ venue: this.o.venue, poll: j.poll.name });
    this.o.get(j.url, (a, ts) => this.onAnswer(j, a, ts));
  }

  private onAnswer(j: Job, a: RestAnswer, ts: number): void {
    j.inflight = false;
    this.inflight--;
    let msg: TickerMsg | null = null;
    let error = a.ok ? null : a.text;
    if (a.ok) {
      try {
        msg = j.poll.parse(a.text, j.symbol, { ...this.o.ctx, recvTs: ts });
        assertWellFormed([msg]);
      } catch (err) {
        msg = null;
        error = (err as Error).message;
      }
    }
    if (msg) {
      j.failures = 0;
      j.lastOk = ts;
      j.expired = false;
      j.due = ts + j.intervalMs;
      this.o.deliver(j.symbol, msg, ts);
    } else {
      j.failures++;
      this.counters.failures++;
      M.pollFailures.inc({ venue: this.o.venue, poll: j.poll.name, reason: a.ok ? 'parse' : 'http' });
      // Slower while failing (a 429/418 asks for it), never faster than the normal interval.
      j.due = ts + j.intervalMs * Math.min(2 ** (j.failures - 1), MAX_BACKOFF);
      this.warn(ts, { symbol: j.symbol, poll: j.poll.name, url: j.url, failures: j.failures, err: error }, 'poll failed');
    }
    this.pump(ts);
  }

  /** One warning per LOG_EVERY_MS per venue, with the number held back since the last one. */
  private warn(now: number, fields: Record<string, unknown>, msg: string): void {
    if (now - this.lastLog < LOG_EVERY_MS) {
      this.suppressed++;
      return;
    }
    this.o.log.warn({ ...fields, suppressed: this.suppressed }, msg);
    this.lastLog = now;
    this.suppressed = 0;
  }
}
