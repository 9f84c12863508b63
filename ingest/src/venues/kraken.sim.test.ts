import { afterEach, describe, expect, it } from 'vitest';
import type { VenueAdapter } from '../sync/adapter.ts';
import { checkpoint, sleep, startHarness, waitFor, type Harness } from '../sim/harness.ts';
import { kraken, KRAKEN_BOOK_DEPTH } from './kraken.ts';

/**
 * The real collector against the simulated Kraken v2 venue over real sockets. The simulated market
 * holds 1200 levels per side and Kraken publishes the best 1000, so inserts push levels out of the
 * window (truncation) and deletes pull deeper ones in; the collector must hold exactly the best
 * 1000, with every checksum passing.
 */

const SYMS = ['BTC/USD', 'ETH/USD', 'SOL/USD'];

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const session = (hh: Harness) => hh.ingest.sessions.get('kraken')!;
const stats = (hh: Harness) => SYMS.map((s) => session(hh).feeds.get(s)!.stats);

describe('collector against the simulated Kraken v2 venue', () => {
  it('keeps the 1000-level window exactly through a cascade with every checksum passing; trades reconcile', async () => {
    h = await startHarness(['kraken']);
    const { sim, rec, ingest } = h;
    sim.market.startCascade();
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      await checkpoint(h, 'kraken', SYMS, KRAKEN_BOOK_DEPTH);
    }
    sim.market.pause();
    await sleep(150);
    let beyondWindow = 0;
    for (const [i, sym] of SYMS.entries()) {
      // The collector holds the best 1000 (fewer only when the whole side is thinner: the cascade pulls bids).
      const full = sim.market.book('kraken', sym);
      beyondWindow += Math.max(0, full.bids.length - KRAKEN_BOOK_DEPTH) + Math.max(0, full.asks.length - KRAKEN_BOOK_DEPTH);
      expect(ingest.book('kraken', sym)!.bids.length).toBe(Math.min(KRAKEN_BOOK_DEPTH, full.bids.length));
      expect(rec.top('kraken', sym, 2 * KRAKEN_BOOK_DEPTH)!.asks.length).toBe(Math.min(KRAKEN_BOOK_DEPTH, full.asks.length));
      expect(rec.count('kraken', sym, 'trade'), sym).toBe(sim.sent('kraken').trades[sym]);
      expect(rec.count('kraken', sym, 'ticker')).toBeGreaterThan(0);
      expect(stats(h)[i]).toMatchObject({ resyncs: 0, checksumFailures: 0 });
    }
    expect(beyondWindow).toBeGreaterThan(0); // levels existed past the window: truncation was exercised
    expect(rec.violations).toEqual([]);
  });

  it('recovers from every injected fault; per-symbol faults resync only that symbol', async () => {
    h = await startHarness(['kraken'], { staleAfterMs: { book: 400 } });
    const hh = h;
    const f = hh.sim.faults('kraken');
    const ready = () => hh.ingest.health().ready;
    const resyncs = () => stats(hh).map((s) => s.resyncs);
    const only = async (what: string, index: number, fault: () => void) => {
      const before = resyncs();
      fault();
      await waitFor(what, () => resyncs()[index] > before[index]);
      await waitFor(`${what}: ready again`, ready);
      await checkpoint(hh, 'kraken', SYMS, KRAKEN_BOOK_DEPTH);
      expect(resyncs().map((n, i) => n - before[i]), what).toEqual(SYMS.map((_, i) => (i === index ? 1 : 0)));
    };

    // 1. wrong checksum on BTC: counted, BTC alone resubscribes
    await only('bad checksum', 0, () => f.badChecksum('BTC/USD'));
    expect(stats(hh)[0].checksumFailures).toBe(1);

    // 2. a lost ETH update near the touch: no sequence on Kraken, the next checksum exposes it
    await only('lost update', 1, () => f.sequenceGap('ETH/USD'));
    expect(stats(hh)[1].checksumFailures).toBe(1);

    // 3./4. malformed and truncated SOL book frames: parse error counted, SOL alone resyncs
    for (const fault of [f.malformedFrame, f.truncatedFrame]) {
      const errors = session(hh).counters.parseErrors;
      await only('bad frame', 2, () => fault('book:SOL'));
      expect(session(hh).counters.parseErrors).toBe(errors + 1);
    }

    // 5. stalled feed: stale, then fresh, nothing lost
    const before = resyncs();
    f.stall(900);
    await waitFor('stale status', () => session(hh).feeds.get('BTC/USD')!.state === 'stale');
    await waitFor('fresh again', () => session(hh).feeds.get('BTC/USD')!.state === 'synced', 3000);
    await checkpoint(hh, 'kraken', SYMS, KRAKEN_BOOK_DEPTH);
    expect(resyncs()).toEqual(before);

    // 6. disconnect: reconnect, every symbol resyncs
    const opens = session(hh).connections.map((c) => c.opens);
    f.disconnectAll();
    await waitFor('reconnected', () => session(hh).connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after reconnect', ready);
    await checkpoint(hh, 'kraken', SYMS, KRAKEN_BOOK_DEPTH);
    expect(stats(hh).every((s) => s.reconnects >= 1)).toBe(true);

    expect(hh.rec.violations).toEqual([]);
  }, 30_000);

  it('with checksums disabled a mismatch is only counted; app-level pings are answered', async () => {
    const pinging: VenueAdapter = { ...kraken, heartbeat: { ...kraken.heartbeat, clientPing: { intervalMs: 100, frame: '{"method":"ping"}', onlyWhenIdle: false } } };
    h = await startHarness(['kraken'], { symbols: ['BTC/USD'], checksum: false }, { adapters: { kraken: pinging } });
    const f = h.sim.faults('kraken');
    const feed = session(h).feeds.get('BTC/USD')!;
    f.badChecksum('BTC/USD');
    await waitFor('failure counted', () => feed.stats.checksumFailures === 1);
    await checkpoint(h, 'kraken', ['BTC/USD'], KRAKEN_BOOK_DEPTH);
    expect(feed.stats.resyncs).toBe(0);
    await waitFor('pings answered', () => f.pings() >= 2);
    expect(h.rec.violations).toEqual([]);
  });
});
