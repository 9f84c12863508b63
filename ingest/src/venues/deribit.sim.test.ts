import { describe, expect, it } from 'vitest';
import type { Liquidation, Trade } from '@depthwatch/schemas';
import { checkpoint, sleep, testHarness, waitFor } from '../sim/harness.ts';

/**
 * The real collector against the simulated Deribit venue over real sockets: a time-compressed
 * cascade with exact book checkpoints (full depth; USD amounts converted to base), then every
 * injected fault. Deribit books are in-band: a resync is an unsubscribe + subscribe of that book.
 */

const V = 'deribit';
const SYMS = ['BTC/USD:BTC', 'ETH/USD:ETH'];
const FULL = 100_000;

describe('collector against the simulated Deribit venue', () => {
  it('stays exactly in sync through a cascade; trades and liquidations (T and MT) reconcile exactly', async () => {
    const h = await testHarness([V], {}, { sim: { market: { levelsPerSide: 300 } } });
    const { sim, ingest, rec } = h;
    const modelTrades = (sym: string) => sim.market.counters.trades[`${V}:${sym}`];
    const modelLiqs = () => SYMS.reduce((n, sym) => n + sim.market.counters.liquidations[`${V}:${sym}`], 0);
    const takerLiqs = () => rec.events.filter((e) => e.type === 'liquidation' && e.id.endsWith('-T')).length;
    // Subscriptions are requests after the socket opens: steps before the sim granted them never reached the wire.
    sim.market.pause();
    await sleep(100);
    const unsubscribed = new Map(SYMS.map((sym) => [sym, modelTrades(sym) - sim.sent(V).trades[sym]]));
    const liqsUnsubscribed = modelLiqs() - takerLiqs();
    sim.market.resume();
    sim.market.startCascade();
    for (let i = 0; i < 3; i++) {
      await sleep(600);
      await checkpoint(h, V, SYMS, FULL);
    }
    sim.market.pause();
    await sleep(150);
    const sent = sim.sent(V);
    for (const sym of SYMS) {
      expect(rec.count(V, sym, 'trade'), sym).toBe(modelTrades(sym) - unsubscribed.get(sym)!);
      expect(rec.count(V, sym, 'trade'), sym).toBe(sent.trades[sym]);
      expect(rec.count(V, sym, 'liquidation'), sym).toBe(sent.liquidations[sym]);
      expect(rec.count(V, sym, 'ticker'), sym).toBeGreaterThan(0);
      expect(ingest.sessions.get(V)!.feeds.get(sym)!.stats.resyncs, sym).toBe(0);
    }
    // The cascade liquidated longs: every model liquidation is on the wire (T), some also the maker (MT).
    const liqs = rec.events.filter((e): e is Liquidation => e.type === 'liquidation');
    const model = modelLiqs() - liqsUnsubscribed;
    expect(model).toBeGreaterThan(0);
    expect(takerLiqs()).toBe(model);
    expect(liqs.length).toBeGreaterThan(model);
    expect(liqs.every((l) => l.completeness === 'complete')).toBe(true);
    // Inverse units: base amount × price is the USD notional (a whole number of 10 USD contracts on BTC).
    for (const l of liqs.filter((x) => x.symbol === 'BTC/USD:BTC')) {
      expect(l.notional % 10).toBe(0);
      expect(Math.abs(l.amount * l.price - l.notional) / l.notional).toBeLessThan(1e-9);
    }
    const trades = rec.events.filter((e): e is Trade => e.type === 'trade');
    expect(trades.filter((t) => t.liquidation).length).toBe(model);
    expect(rec.violations).toEqual([]);
  }, 20_000);

  it('recovers from every injected fault, per symbol where the fault is per symbol, and answers test_request', async () => {
    const h = await testHarness([V], { staleAfterMs: { book: 400 } }, { sim: { market: { levelsPerSide: 200 } } });
    const { sim, ingest, rec } = h;
    const f = sim.faults(V);
    const session = ingest.sessions.get(V)!;
    const btc = session.feeds.get('BTC/USD:BTC')!;
    const eth = session.feeds.get('ETH/USD:ETH')!;
    const ready = () => ingest.health().ready;

    // 0. heartbeats: test_request is answered in time (an unanswered one would drop the socket)
    const hb0 = f.heartbeats();
    f.testRequest();
    await waitFor('public/test answer', () => f.heartbeats().answered > hb0.answered);
    f.testRequest(); // would kill the connection had the previous one gone unanswered
    await waitFor('second answer', () => f.heartbeats().answered > hb0.answered + 1);
    expect(f.heartbeats().kills).toBe(0);

    // 1. change_id gap on one instrument: only that book resubscribes
    const ethResyncs = eth.stats.resyncs;
    f.sequenceGap('BTC/USD:BTC');
    await waitFor('gap detected', () => btc.stats.gaps === 1);
    await waitFor('resynced', ready);
    expect(eth.stats.resyncs).toBe(ethResyncs);
    expect(session.connections.every((c) => c.opens === 1)).toBe(true); // resubscribed, not reconnected
    await checkpoint(h, V, SYMS, FULL);

    // 2. malformed and 3. truncated book frames: counted, only that symbol resynced
    for (const [fault, sym] of [
      [f.malformedFrame, 'ETH-PERPETUAL'],
      [f.truncatedFrame, 'BTC-PERPETUAL'],
    ] as const) {
      const errors = session.counters.parseErrors;
      const before = SYMS.map((x) => session.feeds.get(x)!.stats.resyncs);
      fault(`book.${sym}`);
      await waitFor('parse error counted', () => session.counters.parseErrors === errors + 1);
      await waitFor('resynced after bad frame', ready);
      const after = SYMS.map((x) => session.feeds.get(x)!.stats.resyncs);
      expect(after.map((a, i) => a - before[i])).toEqual(sym === 'BTC-PERPETUAL' ? [1, 0] : [0, 1]);
      await checkpoint(h, V, SYMS, FULL);
    }

    // 4. stalled feed: stale (exchange time stops advancing), then fresh, nothing lost
    f.stall(900);
    await waitFor('stale status', () => btc.state === 'stale');
    await waitFor('fresh again', () => btc.state === 'synced', 3000);
    expect(btc.stats.resyncs).toBe(2);
    await checkpoint(h, V, SYMS, FULL);

    // 5. disconnect: reconnect, set the heartbeat again, resubscribe, resync every symbol
    const opens = session.connections.map((c) => c.opens);
    f.disconnectAll();
    await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after reconnect', ready);
    expect(btc.stats.reconnects).toBe(1);
    expect(eth.stats.reconnects).toBe(1);
    const hb1 = f.heartbeats();
    f.testRequest();
    await waitFor('answer on the new connection', () => f.heartbeats().answered > hb1.answered);
    await checkpoint(h, V, SYMS, FULL);

    // Regular heartbeats (15 scenario s = 1.5 s wall at 10×) were answered throughout.
    expect(f.heartbeats().kills).toBe(0);
    expect(rec.violations).toEqual([]);
  }, 30_000);
});
