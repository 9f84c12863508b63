import { describe, expect, it } from 'vitest';
import type { Level } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg } from './adapter.ts';
import { BookSync, type ResyncReason } from './book-sync.ts';
import { binanceFutures } from '../venues/binance-futures.ts';
import { binance } from '../venues/binance.ts';

function harness(rules = binanceFutures.sync) {
  const log: string[] = [];
  const deltas: { bids: Level[]; asks: Level[] }[] = [];
  const needs: ResyncReason[] = [];
  const sync = new BookSync({
    rules,
    listener: {
      needSnapshot: (r) => (needs.push(r), log.push(`need:${r}`)),
      synced: () => log.push('synced'),
      applied: (_ts, bids, asks) => (deltas.push({ bids, asks }), log.push('delta')),
      lost: (r) => log.push(`lost:${r}`),
      checksumFailure: () => log.push('checksum'),
    },
  });
  sync.start();
  return { sync, log, deltas, needs };
}

const diff = (U: number, u: number, pu: number | null, bids: Level[] = [], asks: Level[] = []): BookDiffMsg => ({
  kind: 'book_diff', symbol: 'X', ts: u, bids, asks, first: U, last: u, prev: pu,
});
const snap = (id: number, bids: Level[] = [[100, 1], [99, 2]], asks: Level[] = [[101, 1], [102, 2]]): BookSnapshotMsg => ({
  kind: 'book_snapshot', symbol: 'X', ts: 1, bids, asks, id,
});

describe('BookSync with Binance USD-M rules', () => {
  it('requests a snapshot only once the first diff is buffered', () => {
    const h = harness();
    expect(h.needs).toEqual([]);
    h.sync.onDiff(diff(10, 15, 9));
    h.sync.onDiff(diff(16, 20, 15));
    expect(h.needs).toEqual(['initial']);
  });

  it('drops u < lastUpdateId, applies the event straddling L, then chains on pu', () => {
    const h = harness();
    h.sync.onDiff(diff(10, 15, 9, [[100, 5]]));
    h.sync.onDiff(diff(16, 20, 15, [[99, 7]]));
    h.sync.onDiff(diff(21, 30, 20, [[98, 3]]));
    h.sync.onSnapshot(snap(18), 'rest');
    // 10..15 dropped (would have set 100 → 5), 16..20 straddles 18, 21..30 chains
    expect(h.sync.synced).toBe(true);
    expect(h.sync.book.bids.get(100)).toBe(1);
    expect(h.sync.book.bids.get(99)).toBe(7);
    expect(h.sync.book.bids.get(98)).toBe(3);
    expect(h.log).toEqual(['need:initial', 'synced']);
    h.sync.onDiff(diff(31, 35, 30, [[97, 1]]));
    expect(h.deltas).toHaveLength(1);
  });

  it('refetches when the snapshot is older than the first buffered event', () => {
    const h = harness();
    h.sync.onDiff(diff(50, 60, 49));
    h.sync.onDiff(diff(61, 70, 60));
    h.sync.onSnapshot(snap(40), 'rest');
    expect(h.sync.synced).toBe(false);
    expect(h.needs).toEqual(['initial', 'snapshot_too_old']);
    // the buffer is kept: a newer snapshot bridges it
    h.sync.onSnapshot(snap(65), 'rest');
    expect(h.sync.synced).toBe(true);
    expect(h.log.filter((l) => l === 'synced')).toHaveLength(1);
  });

  it('waits for the bridging event when every buffered event predates the snapshot', () => {
    const h = harness();
    h.sync.onDiff(diff(10, 15, 9));
    h.sync.onSnapshot(snap(18), 'rest');
    expect(h.sync.synced).toBe(false);
    h.sync.onDiff(diff(16, 22, 15, [[100, 9]]));
    expect(h.sync.synced).toBe(true);
    expect(h.sync.book.bids.get(100)).toBe(9);
    expect(h.log).toEqual(['need:initial', 'synced']);
  });

  it('re-snapshots on a pu mismatch and publishes nothing past the gap', () => {
    const h = harness();
    h.sync.onDiff(diff(10, 20, 9));
    h.sync.onSnapshot(snap(15), 'rest');
    h.sync.onDiff(diff(21, 25, 20, [[100, 2]]));
    h.sync.onDiff(diff(27, 30, 26, [[100, 3]])); // pu 26 != 25
    expect(h.sync.synced).toBe(false);
    expect(h.log).toEqual(['need:initial', 'synced', 'delta', 'lost:gap']);
    expect(h.sync.book.bids.size).toBe(0);
    h.sync.onDiff(diff(31, 40, 30, [[100, 4]]));
    expect(h.needs).toEqual(['initial', 'gap']);
    expect(h.deltas).toHaveLength(1);
  });

  it('chains merged events whose id range spans several updates', () => {
    const h = harness();
    h.sync.onDiff(diff(100, 100, 99));
    h.sync.onSnapshot(snap(100), 'rest');
    // Binance merges several diffs into one event: U..u covers them all, pu still the previous u
    h.sync.onDiff(diff(101, 180, 100, [[100, 2], [95, 1]], [[101, 0]]));
    h.sync.onDiff(diff(181, 181, 180, [], [[103, 1]]));
    expect(h.sync.synced).toBe(true);
    expect(h.deltas).toHaveLength(2);
  });

  it('ignores the delete of an unknown level', () => {
    const h = harness();
    h.sync.onDiff(diff(1, 1, 0));
    h.sync.onSnapshot(snap(1), 'rest');
    h.sync.onDiff(diff(2, 2, 1, [[42, 0]], [[43, 0]]));
    expect(h.sync.synced).toBe(true);
    expect([...h.sync.book.bids.keys()]).toEqual([100, 99]);
  });

  it('skips a duplicate (u already applied) without calling it a gap', () => {
    const h = harness();
    h.sync.onDiff(diff(1, 5, 0));
    h.sync.onSnapshot(snap(5), 'rest');
    h.sync.onDiff(diff(1, 5, 0));
    expect(h.sync.synced).toBe(true);
    expect(h.log).toEqual(['need:initial', 'synced']);
  });
});

describe('BookSync with Binance spot rules', () => {
  it('drops u <= lastUpdateId and applies the event containing L+1', () => {
    const h = harness(binance.sync);
    h.sync.onDiff(diff(10, 12, null, [[100, 5]]));
    h.sync.onDiff(diff(13, 14, null, [[99, 8]]));
    h.sync.onSnapshot(snap(12), 'rest');
    expect(h.sync.synced).toBe(true);
    expect(h.sync.book.bids.get(100)).toBe(1);
    expect(h.sync.book.bids.get(99)).toBe(8);
  });

  it('refetches when lastUpdateId < first U - 1 (snapshot older than the buffer)', () => {
    const h = harness(binance.sync);
    h.sync.onDiff(diff(20, 25, null));
    h.sync.onSnapshot(snap(10), 'rest');
    expect(h.needs).toEqual(['initial', 'snapshot_too_old']);
    expect(h.sync.synced).toBe(false);
  });

  it('restarts when U > local id + 1', () => {
    const h = harness(binance.sync);
    h.sync.onDiff(diff(11, 12, null));
    h.sync.onSnapshot(snap(10), 'rest');
    h.sync.onDiff(diff(13, 15, null));
    expect(h.deltas).toHaveLength(1);
    h.sync.onDiff(diff(17, 18, null));
    expect(h.log.at(-1)).toBe('lost:gap');
    expect(h.sync.synced).toBe(false);
  });

  it('skips stale events (u <= local) silently', () => {
    const h = harness(binance.sync);
    h.sync.onDiff(diff(11, 12, null));
    h.sync.onSnapshot(snap(10), 'rest');
    h.sync.onDiff(diff(5, 12, null));
    expect(h.sync.synced).toBe(true);
    expect(h.deltas).toHaveLength(0);
  });
});

describe('BookSync generic behaviour', () => {
  it('in-band snapshots replace the book and checksum failures resync unless disabled', () => {
    let bad = false;
    const events: string[] = [];
    const mk = (enforce: boolean) =>
      new BookSync({
        rules: { bootstrap: 'in-band', depthLimit: 2, next: (last, d) => (last === null || d.prev === last ? 'apply' : 'gap') },
        checksum: () => !bad,
        enforceChecksum: enforce,
        listener: {
          needSnapshot: (r) => events.push(`need:${r}`),
          synced: () => events.push('synced'),
          applied: () => events.push('delta'),
          lost: (r) => events.push(`lost:${r}`),
          checksumFailure: () => events.push('checksum'),
        },
      });
    const s = mk(true);
    s.start();
    s.onDiff({ ...diff(1, 1, 0), checksum: 1 }); // before the snapshot: dropped
    s.onSnapshot({ ...snap(5, [[100, 1], [99, 1], [98, 1]]), checksum: 1 }, 'in-band');
    expect(s.book.bids.size).toBe(2); // truncated to depth
    s.onDiff({ ...diff(6, 6, 5, [[100, 3]]), checksum: 1 });
    bad = true;
    s.onDiff({ ...diff(7, 7, 6, [[100, 4]]), checksum: 1 });
    expect(events).toEqual(['synced', 'delta', 'checksum', 'lost:checksum', 'need:checksum']);
    events.length = 0;
    const lenient = mk(false);
    lenient.start();
    lenient.onSnapshot({ ...snap(5), checksum: 1 }, 'in-band');
    lenient.onDiff({ ...diff(6, 6, 5, [[100, 4]]), checksum: 1 });
    expect(events).toEqual(['checksum', 'synced', 'checksum', 'delta']);
  });

  it('strict diffs (update for an unknown level) throw the book away', () => {
    const h = harness({ bootstrap: 'in-band', depthLimit: 0, next: () => 'apply' });
    h.sync.onSnapshot(snap(1), 'in-band');
    h.sync.onDiff({ ...diff(2, 2, 1, [[55, 1]]), strict: true });
    expect(h.log).toEqual(['synced', 'lost:unknown_level', 'need:unknown_level']);
  });

  it('full-book venues publish the difference between consecutive snapshots', () => {
    const h = harness({ bootstrap: 'full', depthLimit: 0, next: () => 'apply' });
    h.sync.onSnapshot(snap(null as unknown as number, [[100, 1], [99, 1]], [[101, 1]]), 'in-band');
    h.sync.onSnapshot(snap(null as unknown as number, [[100, 2]], [[101, 1], [102, 1]]), 'in-band');
    expect(h.deltas).toEqual([{ bids: [[100, 2], [99, 0]], asks: [[102, 1]] }]);
  });
});
