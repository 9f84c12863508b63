import { describe, expect, it } from 'vitest';
import type { Liquidation } from '@depthwatch/schemas';
import { checkpoint, sleep, testHarness, waitFor } from '../sim/harness.ts';

/**
 * The real collector against the simulated BitMEX venue over real sockets: full-depth orderBookL2
 * kept exact through a cascade (inverse XBTUSD and linear ETHUSDT), modern and legacy (ids only)
 * rows, and every injected fault. Books are in-band: a resync is unsubscribe + subscribe.
 */

const V = 'bitmex';
const SYMS = ['BTC/USD:BTC', 'ETH/USDT:USDT'];
const FULL = 100_000;

describe('collector against the simulated BitMEX venue', () => {
  it('stays exactly in sync through a cascade in both row formats; trades and inferred liquidations reconcile', async () => {
    const h = await testHarness([V], {}, { sim: { market: { levelsPerSide: 300 } } });
    const { sim, ingest, rec } = h;
    const f = sim.faults(V);
    sim.market.startCascade();
    for (let i = 0; i < 4; i++) {
      f.legacyRows(i % 2 === 1);
      await sleep(500);
      await checkpoint(h, V, SYMS, FULL);
    }
    sim.market.pause();
    await sleep(150);
    const sent = sim.sent(V);
    for (const sym of SYMS) {
      // The trade partial carries trades from before the subscription: every model trade is published once.
      expect(rec.count(V, sym, 'trade'), sym).toBe(sim.market.counters.trades[`${V}:${sym}`]);
      expect(rec.count(V, sym, 'liquidation'), sym).toBe(sent.liquidations[sym]);
      expect(rec.count(V, sym, 'ticker'), sym).toBeGreaterThan(0);
      expect(ingest.sessions.get(V)!.feeds.get(sym)!.stats.resyncs, sym).toBe(0);
    }
    const liqs = rec.events.filter((e): e is Liquidation => e.type === 'liquidation');
    expect(liqs.length).toBeGreaterThan(0);
    expect(liqs.every((l) => l.completeness === 'lower_bound')).toBe(true);
    expect(liqs.filter((l) => l.liquidatedPosition === 'long').length).toBeGreaterThan(liqs.length / 2);
    // Inverse notional is the USD contract value: whole contracts.
    for (const l of liqs.filter((x) => x.symbol === 'BTC/USD:BTC')) expect(Number.isInteger(l.notional)).toBe(true);
    expect(rec.violations).toEqual([]);
  }, 20_000);

  it('recovers from every injected fault; per-symbol faults resync only that symbol', async () => {
    const h = await testHarness([V], { staleAfterMs: { book: 400 } }, { sim: { market: { levelsPerSide: 200 } } });
    const { sim, ingest, rec } = h;
    const f = sim.faults(V);
    const session = ingest.sessions.get(V)!;
    const feeds = SYMS.map((s) => session.feeds.get(s)!);
    const [btc, eth] = feeds;
    const ready = () => ingest.health().ready;
    const resyncs = () => feeds.map((x) => x.stats.resyncs);

    // 1. update for an unknown id (legacy rows: no price to fall back on): that symbol resubscribes;
    //    the resubscribe is preceded by stray rows, which are dropped before the partial.
    f.legacyRows(true);
    f.rowsBeforePartial();
    let before = resyncs();
    f.unknownIdUpdate('BTC/USD:BTC');
    await waitFor('corruption detected', () => btc.stats.resyncs === before[0] + 1);
    await waitFor('resynced', ready);
    expect(resyncs()).toEqual([before[0] + 1, before[1]]);
    expect(session.connections.every((c) => c.opens === 1)).toBe(true);
    await checkpoint(h, V, SYMS, FULL);

    // 2. the same with modern rows (price present, id unknown): still corruption
    f.legacyRows(false);
    before = resyncs();
    f.unknownIdUpdate('ETH/USDT:USDT');
    await waitFor('corruption detected', () => eth.stats.resyncs === before[1] + 1);
    await waitFor('resynced', ready);
    expect(resyncs()).toEqual([before[0], before[1] + 1]);
    await checkpoint(h, V, SYMS, FULL);

    // 3. malformed and 4. truncated book frames: counted, only that symbol resynced
    for (const fault of [f.malformedFrame, f.truncatedFrame]) {
      const errors = session.counters.parseErrors;
      before = resyncs();
      fault('orderBookL2:XBTUSD');
      await waitFor('parse error counted', () => session.counters.parseErrors === errors + 1);
      await waitFor('resynced after bad frame', ready);
      expect(resyncs()).toEqual([before[0] + 1, before[1]]);
      await checkpoint(h, V, SYMS, FULL);
    }

    // 5. stalled feed: stale, then fresh, nothing lost
    f.stall(900);
    await waitFor('stale status', () => btc.state === 'stale');
    await waitFor('fresh again', () => btc.state === 'synced', 3000);
    await checkpoint(h, V, SYMS, FULL);

    // 6. disconnect: welcome, resubscribe, partials (stray rows before them dropped), every symbol resynced
    const opens = session.connections.map((c) => c.opens);
    f.legacyRows(true);
    f.rowsBeforePartial();
    f.disconnectAll();
    await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after reconnect', ready);
    expect(feeds.map((x) => x.stats.reconnects)).toEqual([1, 1]);
    await checkpoint(h, V, SYMS, FULL);
    expect(session.counters.parseErrors).toBe(4); // two unknown-id updates and two bad frames
    expect(rec.violations).toEqual([]);
  }, 30_000);

  it('pings with text "ping" when idle and takes the "pong"', async () => {
    const h = await testHarness([V], { symbols: ['BTC/USD:BTC'] });
    const { sim, ingest } = h;
    sim.market.pause();
    const session = ingest.sessions.get(V)!;
    const msgs = session.counters.messages;
    // No market data for 5 s+: the client pings, the venue answers, the socket stays up.
    await sleep(5_600);
    expect(session.counters.messages).toBeGreaterThan(msgs);
    expect(session.connections[0].opens).toBe(1);
  }, 15_000);
});
