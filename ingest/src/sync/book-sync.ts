import type { Level } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg, SyncRules } from './adapter.ts';
import { OrderBook } from './order-book.ts';

/**
 * The per-symbol book-sync state machine. Pure and synchronous: inputs are diffs and snapshots in
 * arrival order, outputs are listener calls. No sockets, timers or clocks, so the same machine runs
 * live, in fixture replays and in unit tests, and every venue's gap rule is exercised the same way.
 *
 *   awaiting ──snapshot (+ bridge)──▶ synced ──gap / checksum / bad level──▶ awaiting
 *   (buffers diffs for `rest`)                                   (book thrown away, never patched)
 */

export type ResyncReason =
  | 'initial'
  | 'gap'
  | 'snapshot_too_old'
  | 'checksum'
  | 'unknown_level'
  | 'parse_error'
  | 'buffer_overflow'
  | 'reconnect'
  | 'venue_error';

export interface BookSyncListener {
  /** `rest`: fetch a REST snapshot now; `in-band`: resubscribe to get one. */
  needSnapshot(reason: ResyncReason): void;
  /** The book is (re)built: publish a full snapshot. */
  synced(ts: number): void;
  /** A diff was applied on a synced book: publish it as a delta. */
  applied(ts: number, bids: Level[], asks: Level[]): void;
  /** The book was thrown away. */
  lost(reason: ResyncReason, detail: string): void;
  checksumFailure(): void;
}

export interface BookSyncOptions {
  rules: SyncRules;
  listener: BookSyncListener;
  /** Venue checksum verifier; null result = cannot check this message. */
  checksum?: (book: OrderBook, msg: BookDiffMsg | BookSnapshotMsg) => boolean | null;
  /** false: failures are counted but the book is kept (per-venue config). */
  enforceChecksum?: boolean;
  /**
   * Diffs buffered while waiting for a REST snapshot (default 10 000); beyond it the oldest are
   * dropped. A snapshot older than the dropped diffs then cannot bridge: it is refetched with
   * reason `buffer_overflow` (a newer one bridges what was kept).
   */
  maxBuffer?: number;
}

const NONE_CUT: { bids: Level[]; asks: Level[] } = { bids: [], asks: [] };

export type BookSyncState = 'idle' | 'awaiting' | 'bridging' | 'synced';

export class BookSync {
  readonly book = new OrderBook();
  private _state: BookSyncState = 'idle';
  private buffer: BookDiffMsg[] = [];
  private snapshotRequested = false;
  private snapshotId = 0;
  private lastId: number | null = null;
  private lastTs = 0;
  private pendingReason: ResyncReason = 'initial';
  private readonly maxBuffer: number;
  /** The buffer dropped diffs since the last reset: a failing bridge is then our doing, not the venue's. */
  private overflowed = false;
  /** Levels the last applied diff pushed out of the depth window. */
  private truncated: { bids: Level[]; asks: Level[] } = NONE_CUT;

  constructor(private readonly opts: BookSyncOptions) {
    this.maxBuffer = opts.maxBuffer ?? 10_000;
  }

  get state(): BookSyncState {
    return this._state;
  }

  /** Diffs held while awaiting a REST snapshot (≤ maxBuffer). */
  get bufferedDiffs(): number {
    return this.buffer.length;
  }

  get synced(): boolean {
    return this._state === 'synced';
  }

  /** Exchange time of the last update applied. */
  get ts(): number {
    return this.lastTs;
  }

  /** The stream is (re)subscribed: start buffering and wait for a snapshot. */
  start(reason: ResyncReason = 'initial'): void {
    this.reset();
    this._state = 'awaiting';
    this.pendingReason = reason;
    // In-band venues send the snapshot on subscribe; nothing to ask for.
  }

  /** The stream is gone (socket closed): hold nothing. */
  stop(): void {
    this.reset();
    this._state = 'idle';
  }

  /** Throw the book away and rebuild: gap, checksum, unparseable book message. */
  invalidate(reason: ResyncReason, detail: string): void {
    if (this._state === 'idle') return;
    this.reset();
    this._state = 'awaiting';
    this.pendingReason = reason;
    this.opts.listener.lost(reason, detail);
    // REST venues fetch once the next diff is buffered, so the snapshot can never predate the buffer.
    if (this.opts.rules.bootstrap === 'in-band') this.opts.listener.needSnapshot(reason);
  }

  onDiff(d: BookDiffMsg): void {
    switch (this._state) {
      case 'idle':
        return;
      case 'awaiting':
        if (this.opts.rules.bootstrap !== 'rest') return; // before the in-band snapshot: meaningless (BitMEX: drop before partial)
        if (this.buffer.length >= this.maxBuffer) {
          this.buffer.shift();
          this.overflowed = true;
        }
        this.buffer.push(d);
        if (!this.snapshotRequested) {
          this.snapshotRequested = true;
          this.opts.listener.needSnapshot(this.pendingReason);
        }
        return;
      case 'bridging':
        this.bridgeOne(d);
        return;
      case 'synced':
        this.chain(d, true);
        return;
    }
  }

  /** A REST snapshot arrived (answer to needSnapshot) or the venue sent one in-band. */
  onSnapshot(s: BookSnapshotMsg, source: 'rest' | 'in-band'): void {
    if (this._state === 'idle') return;
    const rules = this.opts.rules;
    if (source === 'rest') {
      if (this._state !== 'awaiting') return; // a late answer for a book already rebuilt
      if (s.id === null) throw new Error('REST snapshot without an update id cannot be bridged');
      this.book.load(s.bids, s.asks);
      this.snapshotId = s.id;
      this.lastTs = s.ts;
      this._state = 'bridging';
      const buffered = this.buffer;
      this.buffer = [];
      for (const d of buffered) {
        if (this.state === 'bridging') this.bridgeOne(d, false);
        else if (this.state === 'synced') this.chain(d, false);
        else this.buffer.push(d); // snapshot too old or a gap inside the buffer: keep the rest for the next snapshot
      }
      if (this.state === 'synced') this.opts.listener.synced(this.lastTs);
      else if (this.state === 'awaiting' && this.buffer.length > 0 && !this.snapshotRequested) {
        this.snapshotRequested = true;
        this.opts.listener.needSnapshot(this.pendingReason);
      }
      return;
    }
    // In-band / full snapshot.
    const replacing = this._state === 'synced';
    if (replacing && rules.snapshotReplaces === false) return;
    if (rules.bootstrap === 'full' && replacing) {
      this.replaceFull(s);
      return;
    }
    this.book.load(s.bids, s.asks);
    if (rules.depthLimit > 0) this.book.truncate(rules.depthLimit);
    this.lastId = s.id;
    this.lastTs = s.ts;
    if (!this.verify(s)) return;
    this._state = 'synced';
    this.buffer = [];
    this.opts.listener.synced(s.ts);
  }

  private bridgeOne(d: BookDiffMsg, publish = true): void {
    const verdict = this.opts.rules.bridge!(this.snapshotId, d);
    if (verdict === 'skip') return;
    if (verdict === 'snapshot_too_old') {
      // Keep buffering from this event on and ask again: a newer snapshot will bridge.
      const reason: ResyncReason = this.overflowed ? 'buffer_overflow' : 'snapshot_too_old';
      this.reset();
      this._state = 'awaiting';
      this.buffer.push(d);
      this.snapshotRequested = true;
      this.pendingReason = reason;
      this.opts.listener.needSnapshot(reason);
      return;
    }
    if (!this.applyDiff(d)) return;
    this._state = 'synced';
    if (publish) this.opts.listener.synced(this.lastTs);
  }

  private chain(d: BookDiffMsg, publish: boolean): void {
    const verdict = this.opts.rules.next(this.lastId, d);
    if (verdict === 'skip') return;
    if (verdict === 'gap') {
      this.invalidate('gap', `expected after ${this.lastId}, got first=${d.first} last=${d.last} prev=${d.prev}`);
      return;
    }
    if (!this.applyDiff(d)) return;
    if (!publish) return;
    // Levels the depth window pushed out are deletes for consumers too (the venue sends none).
    const cut = this.truncated;
    this.opts.listener.applied(d.ts, cut.bids.length ? [...d.bids, ...cut.bids] : d.bids, cut.asks.length ? [...d.asks, ...cut.asks] : d.asks);
  }

  /** Applies a diff; false when the book had to be thrown away. */
  private applyDiff(d: BookDiffMsg): boolean {
    if (!this.book.apply(d.bids, d.asks, d.strict === true)) {
      this.invalidate('unknown_level', 'update for a level not in the book');
      return false;
    }
    this.truncated = this.opts.rules.depthLimit > 0 ? this.book.truncate(this.opts.rules.depthLimit) : NONE_CUT;
    this.lastId = this.opts.rules.idAfter ? this.opts.rules.idAfter(d) : d.last;
    if (d.ts > this.lastTs) this.lastTs = d.ts;
    return this.verify(d);
  }

  private verify(msg: BookDiffMsg | BookSnapshotMsg): boolean {
    if (!this.opts.checksum || msg.checksum == null) return true;
    const ok = this.opts.checksum(this.book, msg);
    if (ok !== false) return true;
    this.opts.listener.checksumFailure();
    if (this.opts.enforceChecksum === false) return true;
    this.invalidate('checksum', `checksum ${msg.checksum} mismatch`);
    return false;
  }

  /** Full-book venues: publish the difference to the previous book as a delta, so consumers see one model. */
  private replaceFull(s: BookSnapshotMsg): void {
    const bids = diffSide(this.book.bids, s.bids);
    const asks = diffSide(this.book.asks, s.asks);
    this.book.load(s.bids, s.asks);
    this.lastId = s.id;
    if (s.ts > this.lastTs) this.lastTs = s.ts;
    if (!this.verify(s)) return;
    if (bids.length || asks.length) this.opts.listener.applied(s.ts, bids, asks);
  }

  private reset(): void {
    this.book.clear();
    this.buffer = [];
    this.overflowed = false;
    this.snapshotRequested = false;
    this.lastId = null;
  }
}

function diffSide(prev: Map<number, number>, next: readonly Level[]): Level[] {
  const out: Level[] = [];
  const seen = new Set<number>();
  for (const [p, q] of next) {
    if (q <= 0) continue;
    seen.add(p);
    if (prev.get(p) !== q) out.push([p, q]);
  }
  for (const p of prev.keys()) if (!seen.has(p)) out.push([p, 0]);
  return out;
}
