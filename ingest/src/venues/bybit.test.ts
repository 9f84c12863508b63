import { describe, expect, it } from 'vitest';
import type { Level } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg, ParseContext, VenueMessage } from '../sync/adapter.ts';
import { BookSync, type ResyncReason } from '../sync/book-sync.ts';
import { marketInfo } from '../metadata/index.ts';
import { bybit } from './bybit.ts';

const ctx: ParseContext = {
  recvTs: 1758000000300,
  symbolOf: (vs) => ({ BTCUSDT: 'BTC/USDT:USDT' })[vs],
  market: (s) => marketInfo('bybit', s),
};
const parse = (text: string): VenueMessage[] => bybit.parse(text, ctx);
const book = (u: number, type = 'delta', b: string[][] = [], a: string[][] = []) =>
  JSON.stringify({ topic: 'orderbook.200.BTCUSDT', type, ts: 1758000000020 + u, data: { s: 'BTCUSDT', b, a, u, seq: 7961638725 + u }, cts: 1758000000018 + u });

function harness() {
  const log: string[] = [];
  const deltas: { bids: Level[]; asks: Level[] }[] = [];
  const sync = new BookSync({
    rules: bybit.sync,
    listener: {
      needSnapshot: (r: ResyncReason) => log.push(`need ${r}`),
      synced: () => log.push('synced'),
      applied: (_ts, bids, asks) => {
        log.push('applied');
        deltas.push({ bids, asks });
      },
      lost: (r: ResyncReason) => log.push(`lost ${r}`),
      checksumFailure: () => log.push('checksum'),
    },
  });
  sync.start();
  const feed = (text: string) => {
    for (const m of parse(text)) {
      if (m.kind === 'book_snapshot') sync.onSnapshot(m, 'in-band');
      else if (m.kind === 'book_diff') sync.onDiff(m);
    }
  };
  return { sync, log, feed, deltas };
}

describe('Bybit v5 linear message mapping (venues.md examples)', () => {
  it('orderbook delta: base amounts, u as the chain id, cts as the time', () => {
    const [d] = parse('{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1758000000020,"data":{"s":"BTCUSDT","b":[["115000.10","1.204"],["114990.00","0"]],"a":[["115000.20","0.530"]],"u":18521289,"seq":7961638725},"cts":1758000000018}') as BookDiffMsg[];
    expect(d).toEqual({ kind: 'book_diff', symbol: 'BTC/USDT:USDT', ts: 1758000000018, bids: [[115000.1, 1.204], [114990, 0]], asks: [[115000.2, 0.53]], first: 18521289, last: 18521289, prev: null });
  });

  it('publicTrade: S is the taker side, id i, size v', () => {
    const [t] = parse('{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1758000000030,"data":[{"T":1758000000027,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"115000.20","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"RPI":false,"seq":1783284617}]}');
    expect(t).toEqual({ kind: 'trade', symbol: 'BTC/USDT:USDT', ts: 1758000000027, id: '20f43950-d8dd-5b31-9112-a178eb6023af', price: 115000.2, amount: 0.001, side: 'buy', liquidation: false });
  });

  it('allLiquidation S=Buy is a liquidated long; complete; id from (T, s, S, v, p)', () => {
    const ls = parse('{"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1758000000500,"data":[{"T":1758000000312,"s":"BTCUSDT","S":"Buy","v":"0.250","p":"114620.50"},{"T":1758000000400,"s":"BTCUSDT","S":"Sell","v":"1.5","p":"114700"}]}');
    expect(ls).toEqual([
      { kind: 'liquidation', symbol: 'BTC/USDT:USDT', ts: 1758000000312, id: 'BTCUSDT-1758000000312-Buy-0.250-114620.50', liquidatedPosition: 'long', price: 114620.5, amount: 0.25, completeness: 'complete' },
      { kind: 'liquidation', symbol: 'BTC/USDT:USDT', ts: 1758000000400, id: 'BTCUSDT-1758000000400-Sell-1.5-114700', liquidatedPosition: 'short', price: 114700, amount: 1.5, completeness: 'complete' },
    ]);
  });

  it('tickers delta: missing fields stay undefined (merged by the framework); "" next funding is null', () => {
    const [t] = parse('{"topic":"tickers.BTCUSDT","type":"delta","data":{"symbol":"BTCUSDT","markPrice":"115001.10","openInterest":"52311.457","fundingRate":"0.0001"},"cs":9532239430,"ts":1758000000600}');
    expect(t).toEqual({ kind: 'ticker', symbol: 'BTC/USDT:USDT', ts: 1758000000600, markPrice: 115001.1, indexPrice: undefined, lastPrice: undefined, fundingRate: 0.0001, nextFundingTime: undefined, openInterest: 52311.457 });
    const [s] = parse('{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"1","indexPrice":"2","lastPrice":"3","fundingRate":"","nextFundingTime":"","openInterest":"4"},"cs":1,"ts":1}');
    expect(s).toMatchObject({ indexPrice: 2, lastPrice: 3, fundingRate: null, nextFundingTime: null, openInterest: 4 });
  });

  it('acks, pongs and errors; unknown symbols ignored; identify() finds the topic of a truncated frame', () => {
    expect(parse('{"success":true,"ret_msg":"pong","conn_id":"x","req_id":"","op":"ping"}')).toEqual([{ kind: 'control', action: 'ignore', detail: 'ping' }]);
    expect(parse('{"success":true,"ret_msg":"","conn_id":"x","req_id":"1","op":"subscribe"}')[0].kind).toBe('control');
    expect(parse('{"success":false,"ret_msg":"error:handler not found,topic:orderbook.7.BTCUSDT","conn_id":"x","op":"subscribe"}')[0]).toMatchObject({ kind: 'error', symbol: null });
    expect(parse(book(5).replace(/BTCUSDT/g, 'XRPUSDT'))).toEqual([]);
    expect(bybit.identify(book(5).slice(0, 60))).toEqual({ venueSymbol: 'BTCUSDT', channel: 'book' });
    expect(() => parse(book(5, 'delta', [['x', '1']]))).toThrow(/price/);
  });

  it('subscribes in batches of 10 topics, resubscribes one book topic, pings with {"op":"ping"}', () => {
    const streams = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].flatMap((vs) => bybit.streams(`${vs}`, vs));
    const frames = bybit.onOpen('/v5/public/linear', streams).map((f) => JSON.parse(f));
    expect(frames.map((f) => f.args.length)).toEqual([10, 2]);
    expect(frames[0]).toMatchObject({ op: 'subscribe', args: expect.arrayContaining(['orderbook.200.BTCUSDT', 'publicTrade.BTCUSDT', 'allLiquidation.BTCUSDT', 'tickers.BTCUSDT']) });
    expect(bybit.resubscribe!(streams[0]).map((f) => JSON.parse(f).op)).toEqual(['unsubscribe', 'subscribe']);
    expect(bybit.connectUrl('wss://stream.bybit.com/', '/v5/public/linear', streams)).toBe('wss://stream.bybit.com/v5/public/linear');
    expect(bybit.heartbeat.clientPing).toMatchObject({ intervalMs: 20_000, frame: '{"op":"ping"}' });
  });
});

describe('Bybit book sync rules (venues.md §11)', () => {
  it('snapshot then u+1 deltas apply; u <= last is stale; a u jump resubscribes', () => {
    const h = harness();
    h.feed(book(100, 'snapshot', [['10', '1']], [['11', '1']]));
    h.feed(book(101, 'delta', [['9', '2']]));
    h.feed(book(101, 'delta', [['8', '2']])); // duplicate: stale, dropped
    expect(h.sync.book.sorted('bid')).toEqual([[10, 1], [9, 2]]);
    h.feed(book(103, 'delta', [['7', '2']]));
    expect(h.log).toEqual(['synced', 'applied', 'lost gap', 'need gap']);
    expect(h.sync.synced).toBe(false);
  });

  it('a mid-stream snapshot replaces the book; u=1 (restart) replaces it too and the chain continues from 1', () => {
    const h = harness();
    h.feed(book(100, 'snapshot', [['10', '1'], ['9', '1']], [['11', '1']]));
    h.feed(book(101, 'snapshot', [['20', '1']], [['21', '1']]));
    expect(h.sync.book.sorted('bid')).toEqual([[20, 1]]);
    h.feed(book(1, 'delta', [['30', '1']], [['31', '1']]));
    expect(h.sync.book.sorted('bid')).toEqual([[30, 1]]);
    expect(h.sync.book.sorted('ask')).toEqual([[31, 1]]);
    h.feed(book(2, 'delta', [['29', '1']]));
    expect(h.sync.book.sorted('bid')).toEqual([[30, 1], [29, 1]]);
    expect(h.log.filter((l) => l.startsWith('lost'))).toEqual([]);
  });

  it('level-1 re-snapshot every 3 s with the same u is accepted', () => {
    const h = harness();
    h.feed(book(500, 'snapshot', [['10', '1']], [['11', '1']]));
    h.feed(book(500, 'snapshot', [['10', '1']], [['11', '1']]));
    h.feed(book(501, 'delta', [['10', '3']]));
    expect(h.sync.synced).toBe(true);
    expect(h.sync.book.sorted('bid')).toEqual([[10, 3]]);
    expect(h.log).toEqual(['synced', 'synced', 'applied']);
  });

  it('deltas before the first snapshot are meaningless; the book is truncated to 200 levels', () => {
    const h = harness();
    h.feed(book(5, 'delta', [['1', '1']]));
    expect(h.sync.state).toBe('awaiting');
    const bids = Array.from({ length: 200 }, (_, i) => [String(1000 - i), '1']);
    h.feed(book(6, 'snapshot', bids, [['2000', '1']]));
    h.feed(book(7, 'delta', [['1001', '1']])); // a better level pushes #200 out; Bybit sends no delete for it
    const snap = h.sync.book.sorted('bid');
    expect(snap.length).toBe(200);
    expect(snap[0]).toEqual([1001, 1]);
    expect(snap[199]).toEqual([802, 1]);
    // …and consumers are told: the level pushed out is published as a delete.
    expect(h.deltas.at(-1)).toEqual({ bids: [[1001, 1], [801, 0]], asks: [] });
    const s = parse(book(6, 'snapshot', bids, []))[0] as BookSnapshotMsg;
    expect(s.id).toBe(6);
  });
});
