import { describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { metricValue } from '@depthwatch/ops';
import type { Level, Trade } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg } from './adapter.ts';
import { BookSync, type ResyncReason } from './book-sync.ts';
import { SymbolFeed } from './symbol-feed.ts';
import { binanceFutures } from '../venues/binance-futures.ts';

/**
 * The two ingest bounds, at their real defaults: diffs buffered while a book awaits its REST
 * snapshot (10 000 per book) and events held while a book is not synced (50 000 per symbol).
 */

const T0 = 1_767_225_600_000;

/** Diff i sets bid level i to size 1; ids chain (U = u = i, pu = i − 1) as on Binance USD-M. */
const diff = (i: number): BookDiffMsg => ({ kind: 'book_diff', symbol: 'X', ts: T0 + i, bids: [[i, 1]], asks: [], first: i, last: i, prev: i - 1 });
/** The book as of update id `id`: bid levels 1…id, one ask far above. */
const snapshot = (id: number): BookSnapshotMsg => ({
  kind: 'book_snapshot', symbol: 'X', ts: T0 + id, id,
  bids: Array.from({ length: id }, (_, k): Level => [k + 1, 1]),
  asks: [[1_000_000, 1]],
});


describe('BookSync: diffs buffered while awaiting a REST snapshot', () => {
  it('keeps at most 10 000 (oldest dropped); a snapshot older than the dropped diffs is refetched as buffer_overflow and a newer one rebuilds the exact book', () => {
    const log: string[] = [];
    const sync = new BookSync({
      rules: binanceFutures.sync,
      listener: {
        needSnapshot: (r: ResyncReason) => log.push(`need:${r}`),
        synced: () => log.push('synced'),
        applied: () => log.push('delta'),
        lost: (r) => log.push(`lost:${r}`),
        checksumFailure: () => log.push('checksum'),
      },
    });
    sync.start();
    const N = 10_050;
    let maxSeen = 0;
    for (let i = 1; i <= N; i++) {
      sync.onDiff(diff(i));
      maxSeen = Math.max(maxSeen, sync.bufferedDiffs);
    }
    expect(maxSeen).toBe(10_000);
    expect(sync.bufferedDiffs).toBe(10_000);
    // Diffs 1…50 are gone: a snapshot at id 20 needed diff 21 to bridge.
    sync.onSnapshot(snapshot(20), 'rest');
    expect(sync.synced).toBe(false);
    expect(log).toEqual(['need:initial', 'need:buffer_overflow']);
    // Diffs arriving meanwhile are buffered after the kept ones; a newer snapshot bridges them.
    sync.onDiff(diff(N + 1));
    sync.onSnapshot(snapshot(5_000), 'rest');
    expect(sync.synced).toBe(true);
    expect(log).toEqual(['need:initial', 'need:buffer_overflow', 'synced']);
    expect(sync.book.bids.size).toBe(N + 1);
    expect(sync.book.sorted('bid')[0]).toEqual([N + 1, 1]);
    expect(sync.book.sorted('bid').at(-1)).toEqual([1, 1]);
    // And it chains on from there.
    sync.onDiff(diff(N + 2));
    expect(log.at(-1)).toBe('delta');
  });

  it('a buffer that never overflowed and meets a stale snapshot refetches as snapshot_too_old, not buffer_overflow', () => {
    const needs: ResyncReason[] = [];
    const sync = new BookSync({
      rules: binanceFutures.sync,
      maxBuffer: 100,
      listener: { needSnapshot: (r) => needs.push(r), synced: () => {}, applied: () => {}, lost: () => {}, checksumFailure: () => {} },
    });
    sync.start();
    for (let i = 30; i < 130; i++) sync.onDiff(diff(i));
    expect(sync.bufferedDiffs).toBe(100);
    sync.onSnapshot(snapshot(20), 'rest');
    expect(needs).toEqual(['initial', 'snapshot_too_old']);
  });
});

describe('SymbolFeed: events held while the book is not synced', () => {
  it('holds at most 50 000 per symbol (oldest dropped, counted as held_overflow), then publishes the kept ones in order with seq 1…n after the snapshot', async () => {
    const bus = new MemoryBus();
    const published: Trade[] = [];
    await bus.subscribe('md.trade', (e) => void published.push(e));
    const snapshotsAsked: ResyncReason[] = [];
    const feed = new SymbolFeed({
      venue: 'binance-futures',
      symbol: 'BTC/USDT:USDT',
      bus,
      rules: binanceFutures.sync,
      channels: new Set(['book', 'trade']),
      staleAfterMs: binanceFutures.staleAfterMs,
      snapshotIntervalMs: 60_000,
      enforceChecksum: true,
      now: () => T0,
      requestSnapshot: (r) => void snapshotsAsked.push(r),
      lagSample: () => {},
    });
    feed.streamUp(['book', 'trade'], false);
    const before = await metricValue('depthwatch_ingest_events_dropped_total', { venue: 'binance-futures', reason: 'held_overflow' });
    const N = 50_037;
    for (let i = 0; i < N; i++) feed.onTrade({ kind: 'trade', symbol: 'BTCUSDT', ts: T0 + i, id: `t${i}`, price: 100, amount: 1, side: 'buy', liquidation: false }, T0 + i);
    expect(published).toHaveLength(0);
    expect((await metricValue('depthwatch_ingest_events_dropped_total', { venue: 'binance-futures', reason: 'held_overflow' })) - before).toBe(N - 50_000);

    feed.onDiff(diff(10), T0 + N);
    expect(snapshotsAsked).toEqual(['initial']);
    feed.onSnapshot(snapshot(10), 'rest', T0 + N);
    expect(feed.state).toBe('synced');
    expect(published).toHaveLength(50_000);
    expect(published[0]!.id).toBe(`t${N - 50_000}`);
    expect(published.at(-1)!.id).toBe(`t${N - 1}`);
    expect(published.every((t, k) => t.seq === k + 1 && t.id === `t${N - 50_000 + k}`)).toBe(true);
    // Synced: the next trade goes straight out.
    feed.onTrade({ kind: 'trade', symbol: 'BTCUSDT', ts: T0 + N, id: 'live', price: 100, amount: 1, side: 'sell', liquidation: false }, T0 + N);
    expect(published.at(-1)).toMatchObject({ id: 'live', seq: 50_001 });
  });
});
