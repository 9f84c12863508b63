import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { BookSnapshot, Trade } from '@depthwatch/schemas';
import { FIXTURES_DIR, readWsFrames } from '../fixtures/cryptofeed.ts';
import { rebuildBook, replay } from '../fixtures/replay.ts';
import { registerMarkets } from '../metadata/index.ts';
import { loadVenueMarkets } from '../../scripts/refresh-metadata.ts';
import { okx } from './okx.ts';
import type { VenueAdapter } from '../sync/adapter.ts';

/**
 * OKX.ws.1.0 (2022): 400-level `books` snapshots + updates with real CRC32 checksums (before seqId
 * existed) for an inverse future, an inverse swap and a spot pair, plus trades. Every checksum must
 * verify against the book the adapter keeps (in base units, turned back into OKX's strings).
 */

const SYMBOLS: Record<string, string> = { 'BTC-USD-220527': 'BTC/USD:BTC-220527', 'UNI-USD-SWAP': 'UNI/USD:UNI', 'BTC-USDT': 'BTC/USDT' };
const CT_VAL: Record<string, number> = { 'BTC-USD-220527': 100, 'UNI-USD-SWAP': 10, 'BTC-USDT': 1 };
const ws = readWsFrames(join(FIXTURES_DIR, 'OKX.ws.1.0'));
const recv = ws.filter((r): r is Extract<typeof r, { kind: 'recv' }> => r.kind === 'recv');

beforeAll(async () => {
  // The recording's own instrument list, through ccxt, gives ctVal and precision for these markets.
  registerMarkets(await loadVenueMarkets({ venue: 'okx', ccxtId: 'okx', options: { fetchMarkets: { types: ['spot', 'swap', 'future'] } }, fixture: 'OKX.0', symbols: Object.values(SYMBOLS) }, { live: false }));
}, 30_000);

describe('replay of recorded OKX traffic', () => {
  it('verifies every recorded CRC32 checksum and keeps every book in sync', async () => {
    let verified = 0;
    const counting: VenueAdapter = {
      ...okx,
      checksum: (book, msg, m) => {
        const ok = okx.checksum!(book, msg, m);
        if (ok) verified++;
        return ok;
      },
    };
    const { session, events } = await replay(counting, Object.values(SYMBOLS), ws);
    const recordedChecksums = recv.filter((r) => r.text.includes('"channel":"books"') && /"checksum":-?[1-9]/.test(r.text)).length;
    expect(recordedChecksums).toBe(290);
    expect(verified).toBe(recordedChecksums);
    expect(session.counters.parseErrors).toBe(0);
    for (const [vs, symbol] of Object.entries(SYMBOLS)) {
      const feed = session.feeds.get(symbol)!;
      expect(feed.stats, symbol).toMatchObject({ checksumFailures: 0, resyncs: 0, gaps: 0 });
      // Consumer view rebuilt from published events equals the collector's book.
      const book = rebuildBook(events, symbol);
      expect(book.deltas, symbol).toBeGreaterThan(80);
      const sorted = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);
      expect(sorted(book.bids), symbol).toEqual(sorted(feed.sync.book.bids));
      expect(sorted(book.asks), symbol).toEqual(sorted(feed.sync.book.asks));
      expect(Math.max(...book.bids.keys()), symbol).toBeLessThan(Math.min(...book.asks.keys()));
      // Sizes are in base units: inverse contracts are ctVal USD each.
      const snap = JSON.parse(recv.find((r) => r.text.includes(`"instId":"${vs}"},"action":"snapshot"`))!.text).data[0];
      const [px, sz] = snap.bids[0];
      const first = events.find((e) => e.event.symbol === symbol && e.event.type === 'book_snapshot')!.event as BookSnapshot;
      expect(first.bids.find(([p]) => p === Number(px))![1], symbol).toBe(vs === 'BTC-USDT' ? Number(sz) : Number(((Number(sz) * CT_VAL[vs]) / Number(px)).toPrecision(12)));
    }
  });

  it('normalizes every recorded trade with exact price, base size, taker side and time', async () => {
    const { events } = await replay(okx, Object.values(SYMBOLS), ws);
    const expected = recv
      .filter((r) => r.text.includes('"channel":"trades"') && r.text.includes('"data"'))
      .flatMap((r) =>
        JSON.parse(r.text).data.map((t: Record<string, string>) => ({
          symbol: SYMBOLS[t.instId],
          id: t.tradeId,
          price: Number(t.px),
          amount: t.instId === 'BTC-USDT' ? Number(t.sz) : Number(((Number(t.sz) * CT_VAL[t.instId]) / Number(t.px)).toPrecision(12)),
          side: t.side,
          ts: Number(t.ts),
        })),
      );
    expect(expected.length).toBeGreaterThan(50);
    const got = events
      .filter((e) => e.topic === 'md.trade')
      .map(({ event }) => {
        const t = event as Trade;
        return { symbol: t.symbol, id: t.id, price: t.price, amount: t.amount, side: t.side, ts: t.ts };
      });
    expect(got).toEqual(expected);
  });
});
