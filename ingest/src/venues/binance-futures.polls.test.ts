import { describe, expect, it } from 'vitest';
import { registry } from '@depthwatch/ops';
import type { FeedStatus } from '@depthwatch/schemas';
import { checkpoint, sleep, testHarness, waitFor, type Harness } from '../sim/harness.ts';

/**
 * Polled REST data and connection-level status, end to end: the real collector against the
 * simulated Binance USD-M venue over real sockets. Open interest exists there only as
 * `GET /fapi/v1/openInterest`; the framework polls it and merges it into the symbol's ticker.
 */

const V = 'binance-futures';
const SYMS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT'];
const POLL = { pollIntervalMs: { open_interest: 100 } };

async function served(h: Harness, symbol: string): Promise<number> {
  const vs = symbol.split('/')[0] + 'USDT';
  const res = await fetch(`${h.sim.endpoints[V]!.restUrl}/fapi/v1/openInterest?symbol=${vs}`);
  return Number(((await res.json()) as { openInterest: string }).openInterest);
}

async function failures(reason: string): Promise<number> {
  const { values } = await registry.getSingleMetric('depthwatch_ingest_poll_failures_total')!.get();
  return values.filter((v) => v.labels.venue === V && v.labels.reason === reason).reduce((n, v) => n + v.value, 0);
}

const symbolStatuses = (h: Harness): FeedStatus[] => h.rec.statuses.filter((s) => s.venue === V && s.symbol !== '*');

describe('Binance USD-M open interest (polled REST channel)', () => {
  it('arrives on every symbol\'s ticker, equal to what the venue serves, merged with the streamed mark price', async () => {
    const h = await testHarness([V], POLL);
    await sleep(400); // markPrice@1s at time scale 10
    h.sim.market.pause(); // open interest stops moving; polls go on
    for (const symbol of SYMS) {
      const want = await served(h, symbol);
      expect(want).toBeGreaterThan(0);
      await waitFor(`${symbol} ticker OI = ${want}`, () => h.rec.tickers.get(`${V}:${symbol}`)?.openInterest === want);
      const t = h.rec.tickers.get(`${V}:${symbol}`)!;
      expect(t.markPrice, symbol).not.toBeNull();
      expect(t.fundingRate, symbol).not.toBeNull();
    }
    const session = h.ingest.sessions.get(V)!;
    expect(session.poller.size).toBe(3);
    expect(session.poller.counters.failures).toBe(0);
    expect(session.poller.counters.requests).toBeGreaterThanOrEqual(3);
    expect(h.rec.violations).toEqual([]);
  }, 15_000);

  it('a failing open-interest endpoint is counted and logged, never disturbs the books, and recovers', async () => {
    const h = await testHarness([V], POLL);
    const session = h.ingest.sessions.get(V)!;
    const f = h.sim.faults(V);
    await waitFor('first OI', () => SYMS.every((s) => typeof h.rec.tickers.get(`${V}:${s}`)?.openInterest === 'number'));
    const statuses = symbolStatuses(h).length;
    const resyncs = SYMS.map((s) => session.feeds.get(s)!.stats.resyncs);
    const [http0, parse0, fail0] = [await failures('http'), await failures('parse'), session.poller.counters.failures];

    f.failOpenInterest(4, 'http');
    await waitFor('4 HTTP failures counted', () => session.poller.counters.failures === fail0 + 4);
    f.failOpenInterest(2, 'malformed');
    await waitFor('2 parse failures counted', () => session.poller.counters.failures === fail0 + 6);
    expect(await failures('http')).toBe(http0 + 4);
    expect(await failures('parse')).toBe(parse0 + 2);

    // The books never noticed: no status change, no resync, still exactly the venue's book.
    expect(symbolStatuses(h).length).toBe(statuses);
    expect(SYMS.map((s) => session.feeds.get(s)!.stats.resyncs)).toEqual(resyncs);
    expect(SYMS.every((s) => session.feeds.get(s)!.state === 'synced')).toBe(true);
    await checkpoint(h, V, SYMS, 400);

    // Open interest is fresh again afterwards (failures back off by whole intervals: ≤ 8 × 100 ms).
    h.sim.market.pause();
    for (const symbol of SYMS) {
      const want = await served(h, symbol);
      await waitFor(`${symbol} OI after the failures`, () => h.rec.tickers.get(`${V}:${symbol}`)?.openInterest === want, 3000);
    }
    expect(h.rec.violations).toEqual([]);
  }, 20_000);

  it('publishes the connection-level status (symbol "*"): up, a dropped route, all down, reconnected, with reconnect counts', async () => {
    const h = await testHarness([V], POLL);
    const session = h.ingest.sessions.get(V)!;
    const conn = () => h.rec.statuses.filter((s) => s.venue === V && s.symbol === '*');
    expect(session.connections.map((c) => c.route)).toEqual(['/public/stream', '/market/stream']);
    expect(conn().map((s) => s.state)).toEqual(['connecting', 'syncing', 'synced']);
    expect(conn().at(-1)).toMatchObject({ reason: '2/2 up', reconnects: 0 });

    h.sim.faults(V).disconnectAll();
    await waitFor('every socket back', () => session.connections.every((c) => c.opens === 2 && c.open));
    await waitFor('connection synced again', () => conn().at(-1)!.state === 'synced');
    const after = conn().slice(3);
    // Each socket's loss and return is news: the venue was down (both routes) or half down on the way.
    expect(after.some((s) => s.state === 'down' || s.state === 'resyncing')).toBe(true);
    expect(after.filter((s) => s.state !== 'synced').every((s) => /down: |connections down; /.test(s.reason))).toBe(true);
    expect(after.at(-1)).toMatchObject({ state: 'synced', reason: '2/2 up', reconnects: 2 });
    expect(session.status.reconnects).toBe(2);
    // One stream with its own sequence, unaffected by the symbols' statuses.
    expect(conn().map((s) => s.seq)).toEqual(conn().map((_, i) => i + 1));
    expect(h.rec.violations).toEqual([]);
  }, 15_000);
});
