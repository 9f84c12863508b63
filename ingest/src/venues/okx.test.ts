import { describe, expect, it } from 'vitest';
import type { BookDiffMsg, BookSnapshotMsg, ParseContext, VenueMessage } from '../sync/adapter.ts';
import { BookSync, type ResyncReason } from '../sync/book-sync.ts';
import { OrderBook } from '../sync/order-book.ts';
import { findMarket, marketInfo } from '../metadata/index.ts';
import { okx, okxChecksum, okxChecksumString, parseOkxRestBook } from './okx.ts';

const ctx: ParseContext = {
  recvTs: 1758000000300,
  symbolOf: (vs) => ({ 'BTC-USDT-SWAP': 'BTC/USDT:USDT', 'BTC-USDT': 'BTC/USDT' })[vs],
  market: (s) => marketInfo('okx', s),
};
const parse = (text: string): VenueMessage[] => okx.parse(text, ctx);
const upd = (prev: number, seq: number, bids: string[][] = [], asks: string[][] = [], action = 'update') =>
  JSON.stringify({ arg: { channel: 'books', instId: 'BTC-USDT-SWAP' }, action, data: [{ asks: asks.map((l) => [...l, '0', '1']), bids: bids.map((l) => [...l, '0', '1']), ts: String(1758000000100 + seq), checksum: 0, prevSeqId: prev, seqId: seq }] });

function harness() {
  const log: string[] = [];
  const sync = new BookSync({
    rules: okx.sync,
    listener: {
      needSnapshot: (r: ResyncReason) => log.push(`need ${r}`),
      synced: () => log.push('synced'),
      applied: () => log.push('applied'),
      lost: (r: ResyncReason) => log.push(`lost ${r}`),
      checksumFailure: () => log.push('checksum'),
    },
    checksum: (book, msg) => okx.checksum!(book, msg, marketInfo('okx', 'BTC/USDT:USDT')),
  });
  sync.start();
  const feed = (text: string) => {
    for (const m of parse(text)) {
      if (m.kind === 'book_snapshot') sync.onSnapshot(m, 'in-band');
      else if (m.kind === 'book_diff') sync.onDiff(m);
    }
  };
  return { sync, log, feed };
}

describe('OKX v5 message mapping (venues.md examples)', () => {
  it('metadata: BTC-USDT-SWAP is linear with ctVal 0.01 (ccxt over the recorded instruments)', () => {
    expect(findMarket('okx', 'BTC/USDT:USDT')).toMatchObject({ venueSymbol: 'BTC-USDT-SWAP', linear: true, contractSize: 0.01, tickSize: 0.1, lotSize: 1 });
    expect(findMarket('okx', 'BTC/USDT')).toMatchObject({ venueSymbol: 'BTC-USDT', type: 'spot', contractSize: 1 });
  });

  it('books update: contracts × ctVal, seqId chain ids, checksum carried', () => {
    const [d] = parse('{"arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"action":"update","data":[{"asks":[["115000.2","41","0","3"]],"bids":[["114999.9","0","0","0"]],"ts":"1758000000100","checksum":0,"prevSeqId":123456,"seqId":123470}]}') as BookDiffMsg[];
    expect(d).toEqual({ kind: 'book_diff', symbol: 'BTC/USDT:USDT', ts: 1758000000100, bids: [[114999.9, 0]], asks: [[115000.2, 0.41]], first: 123470, last: 123470, prev: 123456, checksum: 0 });
  });

  it('trades: side is the taker side, size in base', () => {
    const [t] = parse('{"arg":{"channel":"trades","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","tradeId":"942751134","px":"115000.2","sz":"12","side":"buy","ts":"1758000000105","count":"2"}]}');
    expect(t).toEqual({ kind: 'trade', symbol: 'BTC/USDT:USDT', ts: 1758000000105, id: '942751134', price: 115000.2, amount: 0.12, side: 'buy', liquidation: false });
  });

  it('liquidation-orders: side=sell (posSide net) is a liquidated long, lower bound, other instruments ignored', () => {
    const text = '{"arg":{"channel":"liquidation-orders","instType":"SWAP"},"data":[{"details":[{"bkLoss":"0","bkPx":"114700.1","ccy":"","posSide":"net","side":"sell","sz":"25","ts":"1758000000200"}],"instFamily":"BTC-USDT","instId":"BTC-USDT-SWAP","instType":"SWAP","uly":"BTC-USDT"},{"details":[{"bkPx":"3","posSide":"net","side":"buy","sz":"1","ts":"1"}],"instId":"DOGE-USDT-SWAP","instType":"SWAP"}]}';
    expect(parse(text)).toEqual([
      { kind: 'liquidation', symbol: 'BTC/USDT:USDT', ts: 1758000000200, id: 'BTC-USDT-SWAP-1758000000200-sell-25-114700.1', liquidatedPosition: 'long', price: 114700.1, amount: 0.25, notional: undefined, completeness: 'lower_bound' },
    ]);
    expect(parse(text.replace('"posSide":"net","side":"sell"', '"posSide":"short","side":"buy"'))[0]).toMatchObject({ liquidatedPosition: 'short' });
  });

  it('funding-rate (fundingTime is the next settlement), open-interest (oiCcy base), mark-price, index-tickers → the swap', () => {
    expect(parse('{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP","method":"current_period","fundingRate":"0.0001","nextFundingRate":"","fundingTime":"1758009600000","nextFundingTime":"1758038400000","premium":"0.00003","settFundingRate":"0.00009","settState":"settled","ts":"1758000000300"}]}')).toEqual([
      { kind: 'ticker', symbol: 'BTC/USDT:USDT', ts: 1758000000300, fundingRate: 0.0001, nextFundingTime: 1758009600000 },
    ]);
    expect(parse('{"arg":{"channel":"open-interest","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP","oi":"2890151","oiCcy":"28901.51","oiUsd":"3323673650","ts":"1758000000400"}]}')).toEqual([
      { kind: 'ticker', symbol: 'BTC/USDT:USDT', ts: 1758000000400, openInterest: 28901.51 },
    ]);
    expect(parse('{"arg":{"channel":"mark-price","instId":"BTC-USDT-SWAP"},"data":[{"instId":"BTC-USDT-SWAP","instType":"SWAP","markPx":"115001.1","ts":"1758000000500"}]}')[0]).toMatchObject({ markPrice: 115001.1 });
    expect(parse('{"arg":{"channel":"index-tickers","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","idxPx":"114998.2","ts":"1758000000600"}]}')[0]).toMatchObject({ symbol: 'BTC/USDT:USDT', indexPrice: 114998.2 });
  });

  it('text pong is not JSON; notice 64008 reconnects; acks ignored; errors surfaced; identify() on truncated frames', () => {
    expect(parse('pong')).toEqual([{ kind: 'control', action: 'ignore', detail: 'pong' }]);
    expect(parse('{"event":"notice","code":"64008","msg":"upgrade","connId":"a"}')).toMatchObject([{ kind: 'control', action: 'reconnect' }]);
    expect(parse('{"id":"1","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT-SWAP"},"connId":"a4d3ae55"}')[0]).toMatchObject({ kind: 'control', action: 'ignore' });
    expect(parse('{"event":"error","code":"60012","msg":"Invalid request","connId":"x"}')[0]).toMatchObject({ kind: 'error', reason: '60012: Invalid request' });
    expect(okx.identify(upd(1, 2).slice(0, 70))).toEqual({ venueSymbol: 'BTC-USDT-SWAP', channel: 'book' });
    expect(() => parse(upd(1, 2).slice(0, 90))).toThrow();
  });

  it('subscribes swaps to books, trades, liquidation-orders (once per instType), mark, OI, funding and index; spot to books and trades', () => {
    const streams = [...okx.streams('BTC/USDT:USDT', 'BTC-USDT-SWAP'), ...okx.streams('ETH/USDT:USDT', 'ETH-USDT-SWAP'), ...okx.streams('BTC/USDT', 'BTC-USDT')];
    const [req] = okx.onOpen('/ws/v5/public', streams).map((f) => JSON.parse(f));
    expect(req.op).toBe('subscribe');
    expect(req.args.filter((a: { channel: string }) => a.channel === 'liquidation-orders')).toEqual([{ channel: 'liquidation-orders', instType: 'SWAP' }]);
    expect(req.args).toContainEqual({ channel: 'index-tickers', instId: 'BTC-USDT' });
    expect(req.args).toContainEqual({ channel: 'books', instId: 'BTC-USDT' });
    expect(req.args.length).toBe(7 + 7 - 1 + 2);
    expect(okx.streams('BTC/USDT', 'BTC-USDT').map((s) => s.channel)).toEqual(['book', 'trade']);
    expect(okx.restSnapshot!.url('https://www.okx.com', 'BTC-USDT-SWAP')).toBe('https://www.okx.com/api/v5/market/books?instId=BTC-USDT-SWAP&sz=400');
    expect(okx.heartbeat.clientPing).toMatchObject({ frame: 'ping', onlyWhenIdle: true });
  });

  it('REST books bootstrap needs a seqId', () => {
    const body = '{"code":"0","msg":"","data":[{"asks":[["115000.2","41","0","3"]],"bids":[["114999.9","3","0","1"]],"ts":"1758000000100","seqId":555}]}';
    expect(parseOkxRestBook(body, 'BTC/USDT:USDT', ctx)).toMatchObject({ kind: 'book_snapshot', id: 555, bids: [[114999.9, 0.03]] });
    expect(() => parseOkxRestBook(body.replace(',"seqId":555', ''), 'BTC/USDT:USDT', ctx)).toThrow(/seqId/);
    expect(() => parseOkxRestBook('{"code":"50001","msg":"busy","data":[]}', 'BTC/USDT:USDT', ctx)).toThrow(/50001/);
  });
});

describe('OKX book sync rules (venues.md §11)', () => {
  it('chains prevSeqId → seqId; the idle heartbeat and a seqId reset are accepted; a broken chain resyncs', () => {
    const h = harness();
    h.feed(upd(-1, 100, [['10', '1']], [['11', '1']], 'snapshot'));
    h.feed(upd(100, 107, [['9', '2']]));
    h.feed(upd(107, 107)); // heartbeat: empty sides, prevSeqId == seqId
    h.feed(upd(107, 3, [['8', '1']])); // reset after maintenance: seqId < prevSeqId
    h.feed(upd(3, 20, [['8', '0']]));
    expect(h.sync.book.sorted('bid')).toEqual([[10, 1], [9, 2]].map(([p, q]) => [p, q / 100]));
    expect(h.log).toEqual(['synced', 'applied', 'applied', 'applied', 'applied']);
    h.feed(upd(21, 30, [['7', '1']]));
    expect(h.log.slice(-1)).toEqual(['lost gap']); // REST bootstrap: the snapshot is fetched once the next update is buffered
    expect(h.sync.state).toBe('awaiting');
  });

  it('no in-band snapshot: buffer, bridge a REST snapshot on seqId (drop seqId <= snap, first kept has prevSeqId <= snap)', () => {
    const h = harness();
    h.feed(upd(90, 100, [['10', '1']]));
    expect(h.log).toEqual(['need initial']);
    h.feed(upd(100, 110, [['9', '1']]));
    h.feed(upd(110, 120, [['8', '1']]));
    const snap = parseOkxRestBook('{"code":"0","data":[{"asks":[["11","1","0","1"]],"bids":[["10","1","0","1"],["9","1","0","1"]],"ts":"1","seqId":110}]}', 'BTC/USDT:USDT', ctx);
    h.sync.onSnapshot(snap, 'rest');
    expect(h.sync.synced).toBe(true);
    expect(h.sync.book.sorted('bid').map(([p]) => p)).toEqual([10, 9, 8]);
    h.feed(upd(120, 125, [['7', '1']]));
    expect(h.sync.book.sorted('bid').length).toBe(4);
    // A snapshot older than the buffer is refetched.
    const late = harness();
    late.feed(upd(200, 210));
    late.sync.onSnapshot({ ...snap, id: 150 }, 'rest');
    expect(late.log).toEqual(['need initial', 'need snapshot_too_old']);
  });

  it('CRC32 checksum over the top 25 interleaved, signed; a mismatch resyncs; 0 is not validated', () => {
    // Checksum string per OKX's doc example shape: bid:sz:ask:sz, the longer side continuing alone.
    expect(okxChecksumString([['3366.1', '7'], ['3366', '6']], [['3366.8', '9']])).toBe('3366.1:7:3366.8:9:3366:6');
    const book = new OrderBook();
    book.load([[3366.1, 0.07], [3366, 0.06]], [[3366.8, 0.09]]);
    const m = marketInfo('okx', 'BTC/USDT:USDT');
    const good = okxChecksum('3366.1:7:3366.8:9:3366:6');
    const msg = (checksum: number): BookSnapshotMsg => ({ kind: 'book_snapshot', symbol: 'BTC/USDT:USDT', ts: 1, bids: [], asks: [], id: 1, checksum });
    expect(okx.checksum!(book, msg(good), m)).toBe(true);
    expect(okx.checksum!(book, msg(good ^ 1), m)).toBe(false);
    expect(okx.checksum!(book, msg(0), m)).toBeNull();
    const h = harness();
    h.feed(upd(-1, 1, [['10', '1']], [], 'snapshot').replace('"checksum":0', `"checksum":${okxChecksum('10:1') ^ 1}`));
    expect(h.log).toEqual(['checksum', 'lost checksum']);
  });
});
