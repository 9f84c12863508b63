import { describe, expect, it } from 'vitest';
import type { ParseContext } from '../sync/adapter.ts';
import { BookSync } from '../sync/book-sync.ts';
import { marketInfo } from '../metadata/index.ts';
import { checkpoint, sleep, testHarness, waitFor } from '../sim/harness.ts';
import { hyperliquid } from './hyperliquid.ts';

const ctx: ParseContext = {
  recvTs: 1758000000600,
  symbolOf: (vs) => ({ BTC: 'BTC/USDC:USDC' })[vs],
  market: (s) => marketInfo('hyperliquid', s),
};
const V = 'hyperliquid';
const SYMS = ['BTC/USDC:USDC', 'ETH/USDC:USDC'];

describe('Hyperliquid message mapping (venues.md §9 shapes)', () => {
  it('l2Book is a full snapshot of {px, sz, n} levels; trades B = taker bought; activeAssetCtx', () => {
    const [b] = hyperliquid.parse(
      '{"channel":"l2Book","data":{"coin":"BTC","time":1758000000512,"levels":[[{"px":"114999.0","sz":"3.2105","n":7},{"px":"114998.0","sz":"0.91","n":2}],[{"px":"115000.0","sz":"1.0032","n":4}]]}}',
      ctx,
    );
    expect(b).toEqual({ kind: 'book_snapshot', symbol: 'BTC/USDC:USDC', ts: 1758000000512, bids: [[114999, 3.2105], [114998, 0.91]], asks: [[115000, 1.0032]], id: null });
    const [t] = hyperliquid.parse('{"channel":"trades","data":[{"coin":"BTC","side":"B","px":"115000.0","sz":"0.05","hash":"0x3f1c","time":1758000000530,"tid":877707108085800,"users":["0x9b54","0x706b"]}]}', ctx);
    expect(t).toEqual({ kind: 'trade', symbol: 'BTC/USDC:USDC', ts: 1758000000530, id: '877707108085800', price: 115000, amount: 0.05, side: 'buy', liquidation: false });
    expect(hyperliquid.parse('{"channel":"trades","data":[{"coin":"BTC","side":"A","px":"1","sz":"1","time":1,"tid":2}]}', ctx)[0]).toMatchObject({ side: 'sell' });
    const [c] = hyperliquid.parse(
      '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"0.0000125","openInterest":"31506.77","oraclePx":"114990.0","markPx":"114998.0","midPx":"114999.5","premium":"0.0001","dayNtlVlm":"2510339123.4","prevDayPx":"113200.0","impactPxs":["114998.0","115001.0"]}}}',
      ctx,
    );
    expect(c).toEqual({ kind: 'ticker', symbol: 'BTC/USDC:USDC', ts: ctx.recvTs, markPrice: 114998, indexPrice: 114990, fundingRate: 0.0000125, nextFundingTime: 1758002400000, openInterest: 31506.77 });
  });

  it('a snapshot replaces the book, including levels disappearing, published as a delta', () => {
    const applied: unknown[] = [];
    const sync = new BookSync({ rules: hyperliquid.sync, listener: { needSnapshot: () => {}, synced: () => {}, applied: (_ts, bids, asks) => applied.push({ bids, asks }), lost: () => {}, checksumFailure: () => {} } });
    sync.start();
    const snap = (bids: [number, number][], asks: [number, number][]) => sync.onSnapshot({ kind: 'book_snapshot', symbol: 's', ts: 1, bids, asks, id: null }, 'in-band');
    snap([[100, 1], [99, 2]], [[101, 1]]);
    snap([[100, 1]], [[101, 3], [102, 1]]);
    expect(sync.book.sorted('bid')).toEqual([[100, 1]]);
    expect(applied).toEqual([{ bids: [[99, 0]], asks: [[101, 3], [102, 1]] }]);
  });

  it('control traffic, subscriptions, keepalive and identify', () => {
    expect(hyperliquid.parse('{"channel":"pong"}', ctx)).toEqual([{ kind: 'control', action: 'ignore', detail: 'pong' }]);
    expect(hyperliquid.parse('{"channel":"subscriptionResponse","data":{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}}', ctx)[0]).toMatchObject({ kind: 'control' });
    expect(hyperliquid.parse('{"channel":"error","data":"Invalid subscription"}', ctx)[0]).toMatchObject({ kind: 'error', reason: 'Invalid subscription' });
    expect(hyperliquid.parse('{"channel":"l2Book","data":{"coin":"DOGE","time":1,"levels":[[],[]]}}', ctx)).toEqual([]);
    expect(() => hyperliquid.parse('{"channel":"l2Book","data":{"coin":"BTC","time":1,"levels":[[{"px":"x","sz":"1","n":1}],[]]}}', ctx)).toThrow(/px/);
    const streams = hyperliquid.streams('BTC/USDC:USDC', 'BTC');
    expect(hyperliquid.onOpen('/ws', streams)).toEqual([
      '{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}',
      '{"method":"subscribe","subscription":{"type":"trades","coin":"BTC"}}',
      '{"method":"subscribe","subscription":{"type":"activeAssetCtx","coin":"BTC"}}',
    ]);
    // The server only counts client traffic: ping on a fixed cadence, busy or not.
    expect(hyperliquid.heartbeat.clientPing).toEqual({ intervalMs: 20_000, frame: '{"method":"ping"}', onlyWhenIdle: false });
    expect(hyperliquid.identify('{"channel":"l2Book","data":{"coin":"BTC","time":17580')).toEqual({ venueSymbol: 'BTC', channel: 'book' });
    expect(hyperliquid.identify('{"channel":"trades","data":[{"coin":"ETH","side"')).toEqual({ venueSymbol: 'ETH', channel: 'trade' });
    expect(hyperliquid.streams('BTC/USDC:USDC', 'BTC').some((s) => s.channel === 'liquidation')).toBe(false);
  });
});

describe('collector against the simulated Hyperliquid venue', () => {
  it('keeps the 20-level books exact through a cascade and every fault; trades reconcile', async () => {
    const h = await testHarness([V], { staleAfterMs: { book: 400 } }, { sim: { market: { levelsPerSide: 200 } } });
    const { sim, ingest, rec } = h;
    const f = sim.faults(V);
    const session = ingest.sessions.get(V)!;
    const feeds = SYMS.map((s) => session.feeds.get(s)!);
    const ready = () => ingest.health().ready;
    sim.market.startCascade();
    for (let i = 0; i < 2; i++) {
      await sleep(500);
      await checkpoint(h, V, SYMS, 20);
    }
    // Bad frames: counted; only that book waits for the next full snapshot (nothing to resubscribe).
    for (const fault of [f.malformedFrame, f.truncatedFrame]) {
      const errors = session.counters.parseErrors;
      const before = feeds.map((x) => x.stats.resyncs);
      fault('l2Book:BTC');
      await waitFor('parse error counted', () => session.counters.parseErrors === errors + 1);
      await waitFor('rebuilt from the next snapshot', ready);
      expect(feeds.map((x, i) => x.stats.resyncs - before[i])).toEqual([1, 0]);
      await checkpoint(h, V, SYMS, 20);
    }
    f.stall(900);
    await waitFor('stale status', () => feeds[0].state === 'stale');
    await waitFor('fresh again', () => feeds.every((x) => x.state === 'synced'), 3000);
    await checkpoint(h, V, SYMS, 20);
    const opens = session.connections.map((c) => c.opens);
    f.disconnectAll();
    await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after reconnect', ready);
    await checkpoint(h, V, SYMS, 20);
    sim.market.pause();
    await sleep(150);
    const sent = sim.sent(V);
    for (const sym of SYMS) expect(rec.count(V, sym, 'trade'), sym).toBe(sent.trades[sym]);
    expect(rec.count(V, 'BTC/USDC:USDC', 'ticker')).toBeGreaterThan(0);
    expect(rec.events.filter((e) => e.type === 'liquidation')).toEqual([]);
    expect(rec.violations).toEqual([]);
  }, 20_000);

  it('a client that sends nothing is closed by the server; the collector pings in time and stays up', async () => {
    const quiet = { ...hyperliquid, heartbeat: { ...hyperliquid.heartbeat, clientPing: undefined } };
    const pinging = { ...hyperliquid, heartbeat: { ...hyperliquid.heartbeat, clientPing: { ...hyperliquid.heartbeat.clientPing!, intervalMs: 200 } } };
    for (const [adapter, closed] of [
      [quiet, true],
      [pinging, false],
    ] as const) {
      const h = await testHarness([V], { symbols: ['BTC/USDC:USDC'] }, { adapters: { hyperliquid: adapter } });
      const f = h.sim.faults(V);
      f.idleTimeout(600);
      await sleep(1_200);
      expect(f.stats().idleCloses > 0, `${closed}`).toBe(closed);
      if (!closed) expect(f.stats().pings).toBeGreaterThan(2);
      await h.close();
    }
  }, 15_000);
});
