import { afterEach, describe, expect, it } from 'vitest';
import type { VenueAdapter } from '../sync/adapter.ts';
import { checkpoint, sleep, startHarness, waitFor, type Harness } from '../sim/harness.ts';
import { coinbase } from './coinbase.ts';

/**
 * The real collector against the simulated Coinbase Advanced Trade venue over real sockets. The
 * whole simulated book is known (level2 snapshots are the full book), so checkpoints compare it all.
 */

const SYMS = ['BTC/USD', 'ETH/USD', 'SOL/USD'];
const FULL = 100_000;
/** Two products per socket (4 streams): BTC+ETH on socket 0, SOL on socket 1, to show the blast radius of a gap. */
const twoPerSocket: VenueAdapter = { ...coinbase, maxStreamsPerConnection: 4 };

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

const resyncs = (hh: Harness) => SYMS.map((s) => hh.ingest.sessions.get('coinbase')!.feeds.get(s)!.stats.resyncs);

describe('collector against the simulated Coinbase Advanced Trade venue', () => {
  it('stays exactly in sync through a cascade; trades reconcile with the wire, aggressor side restored', async () => {
    h = await startHarness(['coinbase']);
    const { sim, rec, ingest } = h;
    sim.market.startCascade();
    for (let i = 0; i < 3; i++) {
      await sleep(500);
      await checkpoint(h, 'coinbase', SYMS, FULL);
    }
    sim.market.pause();
    await sleep(150);
    const sent = sim.sent('coinbase');
    for (const sym of SYMS) {
      expect(rec.count('coinbase', sym, 'trade'), sym).toBe(sent.trades[sym]);
      expect(ingest.sessions.get('coinbase')!.feeds.get(sym)!.stats.resyncs).toBe(0);
    }
    // Prices arrive exactly on the 0.01 tick grid (decimal strings, no float drift).
    const trades = rec.events.filter((e) => e.type === 'trade') as { price: number }[];
    expect(trades.length).toBeGreaterThan(0);
    expect(trades.filter((t) => Number((t.price).toFixed(2)) !== t.price)).toEqual([]);
    expect(rec.violations).toEqual([]);
  });

  it('restores the aggressor side from the maker side on the wire: a buy lifted the ask, a sell hit the bid', async () => {
    h = await startHarness(['coinbase'], { symbols: ['BTC/USD'] });
    const { rec, bus } = h;
    // The recorder subscribed first, so its book already holds the step that consumed the touch:
    // after a buy at P every bid is below P; after a sell at P every ask is above P.
    const wrong: string[] = [];
    let seen = 0;
    await bus.subscribe('md.trade', (e) => {
      const t = e as { side: string; price: number };
      const top = rec.top('coinbase', 'BTC/USD', 1)!;
      seen++;
      if (t.side === 'buy' ? !(top.bids[0][0] < t.price) : !(top.asks[0][0] > t.price)) wrong.push(`${t.side} ${t.price} vs ${top.bids[0][0]}/${top.asks[0][0]}`);
    });
    await waitFor('trades', () => seen >= 20);
    expect(wrong).toEqual([]);
  });

  it('recovers from every injected fault; a connection-wide gap resyncs exactly the products on that socket', async () => {
    h = await startHarness(['coinbase'], { staleAfterMs: { book: 400 } }, { adapters: { coinbase: twoPerSocket } });
    const hh = h;
    const f = hh.sim.faults('coinbase');
    const session = hh.ingest.sessions.get('coinbase')!;
    expect(session.connections.map((c) => c.streams.map((s) => s.symbol))).toEqual([
      ['BTC/USD', 'BTC/USD', 'ETH/USD', 'ETH/USD'],
      ['SOL/USD', 'SOL/USD'],
    ]);
    const feed = (s: string) => session.feeds.get(s)!;
    const ready = () => hh.ingest.health().ready;
    /** Applies a fault; the products marked true must resync (at least once: a gap seen while already awaiting a snapshot asks again), the others must not. */
    const delta = async (what: string, fault: () => void, affected: boolean[]) => {
      const before = resyncs(hh);
      fault();
      await sleep(300);
      await waitFor(what, () => resyncs(hh).every((n, i) => !affected[i] || n > before[i]));
      await waitFor(`${what}: ready again`, ready);
      await checkpoint(hh, 'coinbase', SYMS, FULL);
      expect(resyncs(hh).map((n, i) => n > before[i]), what).toEqual(affected);
    };

    // 1. a lost l2 update of BTC: the next message on socket 0 shows the gap; BTC and ETH resync, SOL does not
    await delta('lost update', () => f.sequenceGap('BTC/USD'), [true, true, false]);
    expect(feed('ETH/USD').stats.gaps).toBe(1);
    expect(feed('SOL/USD').stats.gaps).toBe(0);

    // 2. a sequence gap on a heartbeat (venues.md §11): every product on the gapped sockets resyncs
    await delta('heartbeat gap', () => f.heartbeatGap(), [true, true, true]);

    // 3. a delete for a level never published: ignored, nothing resyncs
    await delta('unknown-level delete', () => f.unknownLevelDelete('ETH/USD'), [false, false, false]);

    // 4./5. malformed and truncated l2 frames lose their sequence number too: socket 0 resyncs, parse errors counted
    for (const fault of [f.malformedFrame, f.truncatedFrame]) {
      const errors = session.counters.parseErrors;
      await delta('bad frame', () => fault('level2:BTC'), [true, true, false]);
      expect(session.counters.parseErrors).toBe(errors + 1);
    }

    // 6. stalled feed: books go stale, then fresh, nothing lost (no resync)
    const before = resyncs(hh);
    f.stall(900);
    await waitFor('stale status', () => feed('BTC/USD').state === 'stale');
    await waitFor('fresh again', () => feed('BTC/USD').state === 'synced', 3000);
    await checkpoint(hh, 'coinbase', SYMS, FULL);
    expect(resyncs(hh)).toEqual(before);

    // 7. disconnect: both sockets reconnect, every product resyncs
    const opens = session.connections.map((c) => c.opens);
    f.disconnectAll();
    await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after reconnect', ready);
    await checkpoint(hh, 'coinbase', SYMS, FULL);
    expect(feed('SOL/USD').stats.reconnects).toBeGreaterThanOrEqual(1);

    expect(hh.rec.violations).toEqual([]);
  }, 30_000);

  it('keeps idle channels open with heartbeats; without them the venue closes idle channels and the silence is detected', async () => {
    h = await startHarness(['coinbase'], { symbols: ['BTC/USD'], staleAfterMs: { book: 500 } });
    const f = h.sim.faults('coinbase');
    f.idleCloseAfter(300);
    h.sim.market.pause();
    await sleep(700);
    h.sim.market.resume();
    expect(f.idleClosed()).toEqual([[]]);
    await checkpoint(h, 'coinbase', ['BTC/USD'], FULL);
    await h.close();

    const noHeartbeats: VenueAdapter = { ...coinbase, onOpen: (route, streams) => coinbase.onOpen(route, streams).slice(1) };
    h = await startHarness(['coinbase'], { symbols: ['BTC/USD'], staleAfterMs: { book: 500 } }, { adapters: { coinbase: noHeartbeats } });
    const g = h.sim.faults('coinbase');
    g.idleCloseAfter(300);
    h.sim.market.pause();
    await sleep(700);
    h.sim.market.resume();
    expect(g.idleClosed()[0]).toEqual(expect.arrayContaining(['level2:BTC-USD', 'market_trades:BTC-USD']));
    const feed = h.ingest.sessions.get('coinbase')!.feeds.get('BTC/USD')!;
    await waitFor('book silence detected', () => feed.state === 'stale' && feed.reason.startsWith('book'));
    expect(h.ingest.health().ready).toBe(false);
  }, 15_000);
});
