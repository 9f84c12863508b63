import { SYNC_STATES, streamKey, type Bus, type FeedStatus, type Level, type SyncState, type Ticker, type Topic, type TopicEvents, type VenueId } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg, Channel, LiquidationMsg, TickerField, TickerMsg, TradeMsg } from './adapter.ts';
import { BookSync, type BookSyncListener, type ResyncReason } from './book-sync.ts';
import type { OrderBook } from './order-book.ts';
import type { SyncRules } from './adapter.ts';
import { RollingMedian } from './backoff.ts';
import { ingestMetrics as M } from './metrics.ts';

/**
 * Everything the pipeline sees about one (venue, symbol): the book-sync machine, per-stream seq
 * numbers, the merged ticker, status transitions, staleness per channel, and the rule that nothing
 * is published while the book is not synced (trades/liquidations/tickers arriving meanwhile are
 * held, bounded, and released after the snapshot so counts reconcile across a resync).
 */
export interface SymbolFeedOptions {
  venue: VenueId;
  symbol: string;
  bus: Bus;
  rules: SyncRules;
  /** Channels subscribed for this symbol. */
  channels: ReadonlySet<Channel>;
  staleAfterMs: Readonly<Record<Channel, number>>;
  snapshotIntervalMs: number;
  checksum?: (book: OrderBook, msg: BookDiffMsg | BookSnapshotMsg) => boolean | null;
  enforceChecksum: boolean;
  now: () => number;
  /** Book needs a snapshot (REST fetch or resubscribe): the session decides how. */
  requestSnapshot(reason: ResyncReason): void;
  /** Per-venue clock offset sampler. */
  lagSample(ms: number): void;
  maxHeld?: number;
}

type Held = { [T in Topic]: { topic: T; event: TopicEvents[T] } }[Topic];

export class SymbolFeed {
  readonly sync: BookSync;
  state: SyncState = 'connecting';
  reason = 'starting';
  readonly stats = { resyncs: 0, gaps: 0, checksumFailures: 0, reconnects: 0, snapshotRefetches: 0, snapshotsPublished: 0, deltasPublished: 0 };
  private readonly seq = new Map<Topic, number>();
  private readonly key: string;
  private held: Held[] = [];
  private readonly ticker: Omit<Ticker, 'venue' | 'symbol' | 'ts' | 'recvTs' | 'seq' | 'type'> = {
    markPrice: null,
    indexPrice: null,
    lastPrice: null,
    fundingRate: null,
    nextFundingTime: null,
    openInterest: null,
  };
  /** Per channel: highest exchange ts seen and the local time it last advanced. */
  private readonly fresh = new Map<Channel, { exTs: number; at: number }>();
  private readonly lag = new RollingMedian(64);
  private lastSnapshotAt = 0;
  private recvTs = 0;
  private snapshotFailing: string | null = null;

  constructor(private readonly o: SymbolFeedOptions) {
    this.key = streamKey(o.venue, o.symbol);
    const listener: BookSyncListener = {
      needSnapshot: (reason) => {
        if (reason === 'snapshot_too_old' || reason === 'buffer_overflow') {
          // Not a lost book (nothing was published from it) but worth seeing: a lagging snapshot
          // cache, or snapshots so slow that the diff buffer overflowed.
          this.stats.snapshotRefetches++;
          M.resyncs.inc({ venue: o.venue, reason });
        }
        o.requestSnapshot(reason);
      },
      synced: (ts) => this.onSynced(ts),
      applied: (ts, bids, asks) => this.publishDelta(ts, bids, asks),
      lost: (reason, detail) => this.onLost(reason, detail),
      checksumFailure: () => {
        this.stats.checksumFailures++;
        M.checksumFailures.inc({ venue: o.venue });
      },
    };
    this.sync = new BookSync({ rules: o.rules, listener, checksum: o.checksum, enforceChecksum: o.enforceChecksum });
    M.syncState.set({ venue: o.venue, symbol: o.symbol }, 0);
  }

  private get hasBook(): boolean {
    return this.o.channels.has('book');
  }

  get ready(): boolean {
    return this.hasBook ? this.state === 'synced' : this.state === 'synced' || this.state === 'syncing';
  }

  // ---- connection lifecycle (driven by the session)

  streamUp(channels: readonly Channel[], reconnect: boolean): void {
    const now = this.o.now();
    for (const c of channels) this.fresh.set(c, { exTs: 0, at: now });
    if (!channels.includes('book')) {
      if (!this.hasBook) this.setState('synced', 'subscribed');
      return;
    }
    if (reconnect) this.stats.reconnects++;
    this.sync.start(reconnect ? 'reconnect' : 'initial');
    if (reconnect) this.countResync('reconnect');
    this.setState('syncing', reconnect ? 'reconnected' : 'subscribed');
  }

  streamDown(channels: readonly Channel[], reason: string): void {
    for (const c of channels) this.fresh.delete(c);
    if (!channels.includes('book') && this.hasBook) return;
    this.sync.stop();
    this.held = [];
    this.setState('down', reason);
  }

  // ---- inputs

  onDiff(d: BookDiffMsg, recvTs: number): void {
    this.recvTs = recvTs;
    this.touch('book', d.ts, recvTs);
    this.sync.onDiff(d);
  }

  onSnapshot(s: BookSnapshotMsg, source: 'rest' | 'in-band', recvTs: number): void {
    this.recvTs = recvTs;
    if (source === 'in-band') this.touch('book', s.ts, recvTs);
    this.snapshotFailing = null;
    this.sync.onSnapshot(s, source);
  }

  onTrade(t: TradeMsg, recvTs: number): void {
    this.touch('trade', t.ts, recvTs);
    this.emit('md.trade', { type: 'trade', ...this.header(t.ts, recvTs, 'md.trade'), id: t.id, price: t.price, amount: t.amount, side: t.side, liquidation: t.liquidation });
  }

  onLiquidation(l: LiquidationMsg, recvTs: number): void {
    this.touch('liquidation', l.ts, recvTs);
    this.emit('md.liquidation', {
      type: 'liquidation',
      ...this.header(l.ts, recvTs, 'md.liquidation'),
      id: l.id,
      liquidatedPosition: l.liquidatedPosition,
      price: l.price,
      amount: l.amount,
      notional: l.notional ?? l.price * l.amount,
      completeness: l.completeness,
    });
  }

  onTicker(t: TickerMsg, recvTs: number): void {
    this.touch('ticker', t.ts, recvTs);
    this.mergeTicker(t, recvTs);
  }

  /**
   * A polled REST channel's answer (sync/rest-poller.ts): merged and published like a streamed
   * ticker, but it does not count as ticker-stream activity — a dead markPrice stream must still go
   * stale while polls keep answering. Polled data has its own staleness rule (expireTicker).
   */
  onPolledTicker(t: TickerMsg, recvTs: number): void {
    this.mergeTicker(t, recvTs);
  }

  /** A polled channel went stale: its fields are unknown from now on (published with the next ticker). */
  expireTicker(fields: readonly TickerField[]): void {
    for (const f of fields) this.ticker[f] = null;
  }

  private mergeTicker(t: TickerMsg, recvTs: number): void {
    const m = this.ticker;
    if (t.markPrice !== undefined) m.markPrice = t.markPrice;
    if (t.indexPrice !== undefined) m.indexPrice = t.indexPrice;
    if (t.lastPrice !== undefined) m.lastPrice = t.lastPrice;
    if (t.fundingRate !== undefined) m.fundingRate = t.fundingRate;
    if (t.nextFundingTime !== undefined) m.nextFundingTime = t.nextFundingTime;
    if (t.openInterest !== undefined) m.openInterest = t.openInterest;
    this.emit('md.ticker', { type: 'ticker', ...this.header(t.ts, recvTs, 'md.ticker'), ...m });
  }

  /** Unparseable book message, venue error on the book stream, connection-wide gap. */
  invalidate(reason: ResyncReason, detail: string): void {
    if (this.sync.state === 'idle') return;
    if (this.sync.state === 'awaiting') {
      // Nothing applied yet; still restart the buffer so a bad frame cannot be bridged over.
      this.sync.invalidate(reason, detail);
      return;
    }
    this.sync.invalidate(reason, detail);
  }

  snapshotFailed(attempts: number, error: string, limit: number): void {
    if (attempts >= limit) {
      this.snapshotFailing = error;
      this.setState('down', `snapshot failing after ${attempts} attempts: ${error}`);
    }
  }

  /** Periodic work: staleness per channel and the periodic full snapshot. */
  tick(now: number): void {
    if (this.sync.synced && now - this.lastSnapshotAt >= this.o.snapshotIntervalMs) this.publishSnapshot(now);
    if (this.state !== 'synced' && this.state !== 'stale') return;
    let stale: string | null = null;
    for (const [channel, f] of this.fresh) {
      const limit = this.o.staleAfterMs[channel];
      if (Number.isFinite(limit) && now - f.at > limit) {
        stale = `${channel} silent for ${Math.round((now - f.at) / 1000)} s`;
        break;
      }
    }
    if (stale) this.setState('stale', stale);
    else if (this.state === 'stale') this.setState('synced', 'fresh');
  }

  book(): { bids: Level[]; asks: Level[] } | null {
    if (!this.sync.synced) return null;
    return { bids: this.sync.book.sorted('bid'), asks: this.sync.book.sorted('ask') };
  }

  // ---- internals

  private onSynced(_ts: number): void {
    // Status first: a consumer sees 'synced', then the snapshot, then deltas.
    this.setState('synced', 'snapshot applied');
    this.publishSnapshot(this.recvTs || this.o.now());
    const held = this.held;
    this.held = [];
    for (const h of held) this.publishNow(h);
  }

  private onLost(reason: ResyncReason, detail: string): void {
    if (reason === 'gap') {
      this.stats.gaps++;
      M.gaps.inc({ venue: this.o.venue });
    }
    this.countResync(reason);
    this.setState('resyncing', `${reason}: ${detail}`);
  }

  private countResync(reason: ResyncReason): void {
    this.stats.resyncs++;
    M.resyncs.inc({ venue: this.o.venue, reason });
  }

  private publishSnapshot(recvTs: number): void {
    const b = this.sync.book;
    this.lastSnapshotAt = this.o.now();
    this.stats.snapshotsPublished++;
    this.publishNow({
      topic: 'md.book',
      event: {
        type: 'book_snapshot',
        ...this.header(this.sync.ts, recvTs, 'md.book'),
        bids: b.sorted('bid'),
        asks: b.sorted('ask'),
        depthLimit: this.o.rules.depthLimit,
      },
    });
  }

  private publishDelta(ts: number, bids: Level[], asks: Level[]): void {
    this.stats.deltasPublished++;
    this.publishNow({ topic: 'md.book', event: { type: 'book_delta', ...this.header(ts, this.recvTs, 'md.book'), bids, asks } });
  }

  private header(ts: number, recvTs: number, topic: Topic) {
    // Seq is assigned at publish time for held events (see emit), so it always increases by one in bus order.
    void topic;
    return { venue: this.o.venue, symbol: this.o.symbol, ts: Math.trunc(ts), recvTs: Math.trunc(recvTs), seq: 0 };
  }

  private emit<T extends 'md.trade' | 'md.liquidation' | 'md.ticker'>(topic: T, event: TopicEvents[T]): void {
    const h = { topic, event } as Held;
    if (this.hasBook && !this.sync.synced) {
      const max = this.o.maxHeld ?? 50_000;
      if (this.held.length >= max) {
        this.held.shift();
        M.dropped.inc({ venue: this.o.venue, reason: 'held_overflow' });
      }
      this.held.push(h);
      return;
    }
    this.publishNow(h);
  }

  private publishNow(h: Held): void {
    const next = (this.seq.get(h.topic) ?? 0) + 1;
    this.seq.set(h.topic, next);
    (h.event as { seq: number }).seq = next;
    this.o.bus.publish(h.topic, this.key, h.event as never);
    M.published.inc({ venue: this.o.venue, topic: h.topic });
  }

  private touch(channel: Channel, ts: number, recvTs: number): void {
    const f = this.fresh.get(channel);
    if (f && ts > f.exTs) {
      f.exTs = ts;
      f.at = recvTs;
    }
    const lagMs = recvTs - ts;
    M.lag.observe({ venue: this.o.venue, channel }, lagMs / 1000);
    if (channel === 'book') {
      this.lag.push(lagMs);
      this.o.lagSample(lagMs);
    }
  }

  private setState(state: SyncState, reason: string): void {
    if (state === this.state && reason === this.reason) return;
    const changed = state !== this.state;
    this.state = state;
    this.reason = reason;
    M.syncState.set({ venue: this.o.venue, symbol: this.o.symbol }, SYNC_STATES.indexOf(state));
    // Status events mark state changes; a new reason within 'down'/'stale' is news too.
    if (!changed && state !== 'down' && state !== 'stale') return;
    const now = this.o.now();
    const status: FeedStatus = {
      type: 'status',
      ...this.header(now, now, 'md.status'),
      state,
      reason,
      resyncs: this.stats.resyncs,
      gaps: this.stats.gaps,
      checksumFailures: this.stats.checksumFailures,
      reconnects: this.stats.reconnects,
      lagMs: this.lag.value,
    };
    this.publishNow({ topic: 'md.status', event: status });
  }
}
