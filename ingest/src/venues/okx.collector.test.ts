import { afterEach, describe, expect, it } from 'vitest';
import type { Liquidation } from '@depthwatch/schemas';
import { checkpoint, commonFaultDrill, sleep, startHarness, waitFor, type Harness } from '../sim/harness.ts';
import { OKX_BOOK_DEPTH } from './okx.ts';

/**
 * The real collector against the simulated OKX v5 venue over real sockets (swaps in contracts with
 * ctVal, a spot pair): a time-compressed cascade with real CRC32 checksums verified on every
 * update, then every injected fault, with the collector's book equal to the venue's 400-level
 * window at every checkpoint.
 */

const SYMS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'BTC/USDT'];
const SIM = { market: { levelsPerSide: 480 } };

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe('collector against the simulated OKX venue', () => {
  it('stays in sync through a cascade with every checksum verified; trades, liquidations and tickers reconcile', async () => {
    h = await startHarness(['okx'], {}, { sim: SIM });
    const { sim, ingest, rec } = h;
    sim.market.startCascade();
    for (let i = 0; i < 4; i++) {
      await sleep(500);
      await checkpoint(h, 'okx', SYMS, OKX_BOOK_DEPTH);
    }
    sim.market.pause();
    await sleep(150);
    const session = ingest.sessions.get('okx')!;
    const sent = sim.sent('okx');
    for (const sym of SYMS) {
      expect(rec.count('okx', sym, 'trade'), sym).toBe(sim.market.counters.trades[`okx:${sym}`]);
      expect(rec.count('okx', sym, 'liquidation'), sym).toBe(sent.liquidations[sym]);
      expect(session.feeds.get(sym)!.stats, sym).toMatchObject({ resyncs: 0, checksumFailures: 0 });
    }
    const ls = rec.events.filter((e): e is Liquidation => e.type === 'liquidation');
    expect(ls.length).toBeGreaterThan(0);
    expect(ls.every((l) => l.completeness === 'lower_bound' && l.symbol !== 'BTC/USDT')).toBe(true);
    const t = rec.tickers.get('okx:BTC/USDT:USDT')!;
    for (const k of ['markPrice', 'indexPrice', 'fundingRate', 'nextFundingTime', 'openInterest'] as const) expect(t[k], k).toBeTypeOf('number');
    // OI in base: contracts × ctVal.
    expect(t.openInterest! / 0.01).toBeCloseTo(Math.round(t.openInterest! / 0.01), 6);
    expect(rec.violations).toEqual([]);
  }, 20_000);

  it('recovers from every injected fault and matches the sim after each', async () => {
    h = await startHarness(['okx'], { staleAfterMs: { book: 400 } }, { sim: SIM });
    const { sim, ingest, rec } = h;
    const f = sim.faults('okx');
    const session = ingest.sessions.get('okx')!;
    const feed = (s: string) => session.feeds.get(s)!;
    const resyncs = () => SYMS.map((s) => feed(s).stats.resyncs);
    const synced = () => ingest.health().ready;
    const check = () => checkpoint(h!, 'okx', SYMS, OKX_BOOK_DEPTH);
    const restBooks = () => (sim.sent('okx') as unknown as { restBooks: number }).restBooks;

    // 1. heartbeat update (empty sides, prevSeqId == seqId) and 2. seqId reset: accepted, no resync.
    let before = resyncs();
    f.heartbeat('BTC/USDT:USDT');
    f.sequenceReset('ETH/USDT:USDT');
    await sleep(300);
    expect(resyncs()).toEqual(before);
    await check();

    // 3. broken chain on one symbol: only that symbol resyncs, from a REST snapshot bridged on seqId.
    let rest = restBooks();
    f.sequenceGap('BTC/USDT:USDT');
    await waitFor('gap detected', () => feed('BTC/USDT:USDT').stats.gaps === 1);
    await waitFor('resynced', synced);
    expect(resyncs()).toEqual([before[0] + 1, before[1], before[2]]);
    expect(restBooks()).toBe(rest + 1);
    await check();

    // 4. bad checksum: counted, that book rebuilt.
    before = resyncs();
    f.badChecksum('ETH/USDT:USDT');
    await waitFor('checksum failure counted', () => feed('ETH/USDT:USDT').stats.checksumFailures === 1);
    await waitFor('resynced after checksum', synced);
    expect(resyncs()).toEqual([before[0], before[1] + 1, before[2]]);
    await check();

    // 5.–7. malformed and truncated book frames, a stalled feed, a disconnect.
    await commonFaultDrill(h, 'okx', SYMS, OKX_BOOK_DEPTH, 'books');

    // 8. notice 64008: reconnect proactively, resync every book from the in-band snapshots.
    let opens = session.connections.map((c) => c.opens);
    f.notice();
    await waitFor('reconnected after notice', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced after notice', synced);
    await check();

    // 9. no in-band snapshot any more, then a disconnect: every book bootstraps from REST.
    f.inBandSnapshots(false);
    rest = restBooks();
    opens = session.connections.map((c) => c.opens);
    f.disconnectAll();
    await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
    await waitFor('resynced from REST', synced);
    expect(restBooks() - rest).toBe(SYMS.length);
    await check();

    // 10. REST snapshots failing: bounded retries, a 'down' status, then recovery.
    f.failSnapshots(4);
    f.sequenceGap('BTC/USDT');
    await waitFor('down status', () => rec.statuses.some((x) => x.symbol === 'BTC/USDT' && x.state === 'down' && x.reason.includes('snapshot failing')));
    await waitFor('recovered', synced);
    await check();

    // 11. checksum 0 (OKX today): nothing validated, still in sync.
    f.checksumMode('zero');
    await sleep(300);
    await check();
    expect(SYMS.map((s) => feed(s).stats.checksumFailures)).toEqual([0, 1, 0]);
    expect(rec.violations).toEqual([]);
  }, 30_000);
});
