import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Ticker } from '@depthwatch/schemas';
import type { BookDiffMsg, ParseContext } from '../sync/adapter.ts';
import { BookSync, type ResyncReason } from '../sync/book-sync.ts';
import { marketInfo, registerMarkets, type MarketInfo } from '../metadata/index.ts';
import { FIXTURES_DIR, readRestResponses, readWsFrames } from '../fixtures/cryptofeed.ts';
import { rebuildBook, replay } from '../fixtures/replay.ts';
import { deribit, liquidatedPositions } from './deribit.ts';

const ctx: ParseContext = {
  recvTs: 1758000000300,
  symbolOf: (vs) => ({ 'BTC-PERPETUAL': 'BTC/USD:BTC', 'ETH-PERPETUAL': 'ETH/USD:ETH' })[vs],
  market: (s) => marketInfo('deribit', s),
};

const sub = (channel: string, data: unknown) => JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel, data } });

describe('Deribit message mapping (venues.md §8 shapes)', () => {
  it('book change: [action, price, USD amount] → base = USD / price, delete → 0, chained ids', () => {
    const [d] = deribit.parse(
      '{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"change","timestamp":1758000000100,"instrument_name":"BTC-PERPETUAL","change_id":21486665530,"prev_change_id":21486665526,"bids":[["change",114999.5,182340.0],["delete",114990.0,0.0]],"asks":[["new",115000.5,5000.0]]}}}',
      ctx,
    );
    expect(d).toEqual({
      kind: 'book_diff',
      symbol: 'BTC/USD:BTC',
      ts: 1758000000100,
      bids: [
        [114999.5, Number((182340 / 114999.5).toPrecision(12))],
        [114990, 0],
      ],
      asks: [[115000.5, Number((5000 / 115000.5).toPrecision(12))]],
      first: 21486665530,
      last: 21486665530,
      prev: 21486665526,
    });
  });

  it('book snapshot carries change_id; unknown action and bad numbers throw with the symbol', () => {
    const [s] = deribit.parse(sub('book.ETH-PERPETUAL.100ms', { type: 'snapshot', timestamp: 1, instrument_name: 'ETH-PERPETUAL', change_id: 77, bids: [['new', 4500, 45000]], asks: [] }), ctx);
    expect(s).toMatchObject({ kind: 'book_snapshot', symbol: 'ETH/USD:ETH', id: 77, bids: [[4500, 10]], asks: [] });
    expect(() => deribit.parse(sub('book.ETH-PERPETUAL.100ms', { type: 'change', timestamp: 1, change_id: 2, prev_change_id: 1, bids: [['bump', 1, 1]], asks: [] }), ctx)).toThrow(/unknown action/);
    try {
      deribit.parse(sub('book.BTC-PERPETUAL.100ms', { type: 'change', timestamp: 1, change_id: 2, prev_change_id: 1, bids: [['new', 'x', 1]], asks: [] }), ctx);
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ symbol: 'BTC/USD:BTC', channel: 'book' });
    }
    // Instruments not configured are ignored.
    expect(deribit.parse(sub('book.SOL-PERPETUAL.100ms', { type: 'change' }), ctx)).toEqual([]);
  });

  it('prev_change_id mismatch is a gap (resubscribe), a match applies; only that instrument is resubscribed', () => {
    const needs: ResyncReason[] = [];
    const sync = new BookSync({
      rules: deribit.sync,
      listener: { needSnapshot: (r) => needs.push(r), synced: () => {}, applied: () => {}, lost: () => {}, checksumFailure: () => {} },
    });
    sync.start();
    sync.onSnapshot({ kind: 'book_snapshot', symbol: 'x', ts: 1, bids: [[100, 1]], asks: [[101, 1]], id: 10 }, 'in-band');
    const diff = (prev: number, id: number): BookDiffMsg => ({ kind: 'book_diff', symbol: 'x', ts: 2, bids: [[100, 2]], asks: [], first: id, last: id, prev });
    sync.onDiff(diff(10, 14));
    expect(sync.synced).toBe(true);
    expect(sync.book.bids.get(100)).toBe(2);
    sync.onDiff(diff(15, 19)); // 14 → 15: a change was lost
    expect(sync.synced).toBe(false);
    expect(needs).toEqual(['gap']);
    const [stream] = deribit.streams('BTC/USD:BTC', 'BTC-PERPETUAL');
    expect(deribit.resubscribe!(stream).map((t) => JSON.parse(t))).toMatchObject([
      { method: 'public/unsubscribe', params: { channels: ['book.BTC-PERPETUAL.100ms'] } },
      { method: 'public/subscribe', params: { channels: ['book.BTC-PERPETUAL.100ms'] } },
    ]);
  });

  it('test_request is answered with public/test; plain heartbeats and acks are ignored', () => {
    const [r] = deribit.parse('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"test_request"}}', ctx);
    expect(r.kind).toBe('reply');
    expect(JSON.parse((r as { text: string }).text)).toMatchObject({ jsonrpc: '2.0', method: 'public/test' });
    expect(deribit.parse('{"jsonrpc":"2.0","method":"heartbeat","params":{"type":"heartbeat"}}', ctx)).toEqual([{ kind: 'control', action: 'ignore', detail: 'heartbeat' }]);
    expect(deribit.parse('{"jsonrpc":"2.0","id":2,"result":["book.BTC-PERPETUAL.100ms"]}', ctx)[0]).toMatchObject({ kind: 'control', action: 'ignore' });
    expect(deribit.parse('{"jsonrpc":"2.0","id":2,"error":{"code":11050,"message":"bad_request"}}', ctx)[0]).toMatchObject({ kind: 'error' });
  });

  it('onOpen sets the heartbeat, then subscribes the 100ms channels in batches', () => {
    const streams = ['BTC/USD:BTC', 'ETH/USD:ETH'].flatMap((s) => deribit.streams(s, deribit.toVenueSymbol(s)));
    const [hb, subscribe] = deribit.onOpen('/ws/api/v2', streams).map((t) => JSON.parse(t));
    expect(hb).toMatchObject({ method: 'public/set_heartbeat', params: { interval: 15 } });
    expect(subscribe.params.channels).toEqual([
      'book.BTC-PERPETUAL.100ms',
      'trades.BTC-PERPETUAL.100ms',
      'ticker.BTC-PERPETUAL.100ms',
      'book.ETH-PERPETUAL.100ms',
      'trades.ETH-PERPETUAL.100ms',
      'ticker.ETH-PERPETUAL.100ms',
    ]);
    expect(deribit.connectUrl('wss://www.deribit.com', '/ws/api/v2', streams)).toBe('wss://www.deribit.com/ws/api/v2');
    const many = Array.from({ length: 250 }, (_, i) => ({ ...streams[0], name: `book.X${i}.100ms` }));
    expect(deribit.onOpen('/ws/api/v2', many).length).toBe(1 + 3);
  });

  it('trade with liquidation "T" vs "M": opposite liquidated sides; "MT" liquidates both; amounts in base, notional in USD', () => {
    const trade = (liquidation: string | undefined, direction: 'buy' | 'sell') =>
      deribit.parse(
        sub('trades.BTC-PERPETUAL.100ms', [
          { trade_seq: 1960000, trade_id: '348851203', timestamp: 1758000000150, tick_direction: 3, price: 114980.0, mark_price: 114995.1, index_price: 114990.2, instrument_name: 'BTC-PERPETUAL', direction, amount: 25000.0, contracts: 2500.0, ...(liquidation ? { liquidation } : {}) },
        ]),
        ctx,
      );
    const base = Number((25000 / 114980).toPrecision(12));
    const [t, l] = trade('T', 'sell');
    expect(t).toEqual({ kind: 'trade', symbol: 'BTC/USD:BTC', ts: 1758000000150, id: '348851203', price: 114980, amount: base, side: 'sell', liquidation: true });
    expect(l).toEqual({ kind: 'liquidation', symbol: 'BTC/USD:BTC', ts: 1758000000150, id: '348851203-T', liquidatedPosition: 'long', price: 114980, amount: base, notional: 25000, completeness: 'complete' });
    expect(trade('M', 'sell')[1]).toMatchObject({ id: '348851203-M', liquidatedPosition: 'short' });
    expect(trade('T', 'buy')[1]).toMatchObject({ liquidatedPosition: 'short' });
    expect(trade('M', 'buy')[1]).toMatchObject({ liquidatedPosition: 'long' });
    const both = trade('MT', 'sell');
    expect(both.map((m) => (m.kind === 'liquidation' ? m.liquidatedPosition : m.kind))).toEqual(['trade', 'long', 'short']);
    expect(trade(undefined, 'buy')).toEqual([{ ...t, side: 'buy', liquidation: false }]);
    expect(liquidatedPositions('', 'buy')).toEqual([]);
  });

  it('ticker: mark, index, last, funding_8h, open interest USD → base at the mark; options keep coin units', () => {
    const [t] = deribit.parse(
      sub('ticker.BTC-PERPETUAL.100ms', { timestamp: 1758000000200, mark_price: 115000, index_price: 114990.2, last_price: 114998.5, open_interest: 460000000, current_funding: 0.00001, funding_8h: 0.00008, instrument_name: 'BTC-PERPETUAL', state: 'open' }),
      ctx,
    );
    expect(t).toEqual({ kind: 'ticker', symbol: 'BTC/USD:BTC', ts: 1758000000200, markPrice: 115000, indexPrice: 114990.2, lastPrice: 114998.5, fundingRate: 0.00008, nextFundingTime: null, openInterest: 4000 });
  });

  it('identify finds the instrument and channel of a truncated frame', () => {
    expect(deribit.identify('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"book.BTC-PERPETUAL.100ms","data":{"type":"cha')).toEqual({ venueSymbol: 'BTC-PERPETUAL', channel: 'book' });
    expect(deribit.identify('{"jsonrpc":"2.0","method":"subscription","params":{"channel":"trades.ETH-PERPETUAL.1')).toEqual({ venueSymbol: 'ETH-PERPETUAL', channel: 'trade' });
    expect(deribit.identify('{"jsonrpc":"2.0","met')).toBeNull();
  });
});

// ---- replay of the 2021 recording: option books (coin amounts) with change_id chains, tickers

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** The recorded option instruments as markets (ccxt cannot name the 2021 rows: no counter/settlement currency). */
function recordedOptions(names: string[]): MarketInfo[] {
  const rows = readRestResponses(join(FIXTURES_DIR, 'DERIBIT.0')).flatMap((r) => JSON.parse(r.body).result as Record<string, unknown>[]);
  return names.map((name) => {
    const row = rows.find((r) => r.instrument_name === name)!;
    const [base, expiry, strike, cp] = name.split('-');
    const m = /^(\d+)([A-Z]{3})(\d\d)$/.exec(expiry)!;
    const yymmdd = `${m[3]}${String(MONTHS.indexOf(m[2]) + 1).padStart(2, '0')}${m[1].padStart(2, '0')}`;
    return {
      venue: 'deribit',
      symbol: `${base}/USD:${base}-${yymmdd}-${strike}-${cp}`,
      venueSymbol: name,
      type: 'option',
      base,
      quote: 'USD',
      settle: base,
      linear: false,
      inverse: true,
      contractSize: row.contract_size as number,
      tickSize: row.tick_size as number,
      lotSize: row.min_trade_amount as number,
    };
  });
}

describe('replay of recorded DERIBIT traffic', () => {
  const ws = readWsFrames(join(FIXTURES_DIR, 'DERIBIT.ws.1.0'));
  const subscribed = JSON.parse((ws.find((r) => r.kind === 'sent') as { text: string }).text);
  const names = (subscribed.params.channels as string[]).filter((c) => c.startsWith('book.')).map((c) => c.split('.')[1]);
  const markets = recordedOptions(names);
  registerMarkets(markets);
  const symbols = markets.map((m) => m.symbol);
  const recorded = ws
    .filter((r): r is { kind: 'recv'; ts: number; text: string } => r.kind === 'recv')
    .map((r) => ({ ts: r.ts, msg: JSON.parse(r.text) }))
    .filter((r) => r.msg.method === 'subscription');

  it('keeps every book in sync across every recorded change, with no false gaps', async () => {
    const { session, events } = await replay(deribit, symbols, ws);
    expect(session.counters.parseErrors).toBe(0);
    let totalChanges = 0;
    for (const m of markets) {
      const feed = session.feeds.get(m.symbol)!;
      expect(feed.stats.gaps, m.symbol).toBe(0);
      expect(feed.stats.resyncs, m.symbol).toBe(0);
      expect(feed.state, m.symbol).toBe('synced');
      // Independent reference: the recorded snapshot plus every recorded change, applied by hand.
      const ref = { bids: new Map<number, number>(), asks: new Map<number, number>() };
      let changes = 0;
      for (const { msg } of recorded) {
        const d = msg.params.data;
        if (!msg.params.channel.startsWith('book.') || d.instrument_name !== m.venueSymbol) continue;
        if (d.type === 'snapshot') {
          ref.bids.clear();
          ref.asks.clear();
        } else changes++;
        for (const [side, rows] of [['bids', d.bids], ['asks', d.asks]] as const) {
          for (const [action, p, q] of rows) action === 'delete' ? ref[side].delete(p) : ref[side].set(p, q);
        }
      }
      totalChanges += changes;
      // Rebuild from what was published, as a consumer would.
      const book = rebuildBook(events, m.symbol);
      // Empty recorded changes publish nothing; every non-empty one is one delta.
      expect(book.deltas, m.symbol).toBeLessThanOrEqual(changes);
      const sorted = (x: Map<number, number>) => [...x].sort((a, b) => a[0] - b[0]);
      expect(sorted(book.bids), m.symbol).toEqual(sorted(ref.bids));
      expect(sorted(book.asks), m.symbol).toEqual(sorted(ref.asks));
      expect(sorted(feed.sync.book.asks), m.symbol).toEqual(sorted(ref.asks));
      const seqs = events.filter((e) => e.event.symbol === m.symbol && e.topic === 'md.book').map((e) => e.event.seq);
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    }
    expect(totalChanges).toBe(36);
  });

  it('normalizes every recorded ticker (option units: coin, no funding) with exact values', async () => {
    const { events } = await replay(deribit, symbols, ws);
    const bySymbol = new Map(markets.map((m) => [m.venueSymbol, m.symbol]));
    const expected = recorded
      .filter((r) => r.msg.params.channel.startsWith('ticker.'))
      .map(({ msg }) => {
        const d = msg.params.data;
        return { symbol: bySymbol.get(d.instrument_name), ts: d.timestamp, markPrice: d.mark_price, indexPrice: d.index_price, lastPrice: d.last_price ?? null, fundingRate: null, openInterest: d.open_interest };
      });
    expect(expected.length).toBe(89);
    const fields = ['symbol', 'ts', 'markPrice', 'indexPrice', 'lastPrice', 'fundingRate', 'openInterest'] as const;
    const got = events.filter((e) => e.topic === 'md.ticker').map(({ event }) => Object.fromEntries(fields.map((k) => [k, (event as Ticker)[k]])));
    // Tickers held while a book syncs are released in order, so the sequence matches per symbol.
    for (const symbol of symbols) {
      expect(got.filter((g) => g.symbol === symbol), symbol).toEqual(expected.filter((e) => e.symbol === symbol));
    }
    // The trades channel was subscribed but silent in this recording.
    expect(events.filter((e) => e.topic === 'md.trade')).toEqual([]);
  });
});
