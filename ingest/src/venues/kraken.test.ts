import { describe, expect, it } from 'vitest';
import type { Level } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg, ParseContext } from '../sync/adapter.ts';
import { BookSync } from '../sync/book-sync.ts';
import { crc32, crc32Fallback } from '../sync/crc32.ts';
import { marketInfo } from '../metadata/index.ts';
import { kraken, krakenChecksumString, KRAKEN_BOOK_DEPTH } from './kraken.ts';

const ctx: ParseContext = {
  recvTs: 1789536000999,
  symbolOf: (vs) => ({ 'BTC/USD': 'BTC/USD', 'ETH/USD': 'ETH/USD' })[vs],
  market: (s) => marketInfo('kraken', s),
};
const BTC = marketInfo('kraken', 'BTC/USD');

/** The checksum over wire strings, built independently of the adapter (as Kraken computes it). */
function wireChecksum(asks: [string, string][], bids: [string, string][]): number {
  const part = (s: string) => s.replace('.', '').replace(/^0+/, '');
  return crc32([...asks.slice(0, 10), ...bids.slice(0, 10)].map(([p, q]) => part(p) + part(q)).join(''));
}

/** A book frame written the way Kraken writes it: JSON numbers with their trailing zeros. */
function frame(type: 'snapshot' | 'update', bids: [string, string][], asks: [string, string][], checksum: number): string {
  const lv = (rows: [string, string][]) => `[${rows.map(([p, q]) => `{"price":${p},"qty":${q}}`).join(',')}]`;
  return `{"channel":"book","type":"${type}","data":[{"symbol":"BTC/USD","bids":${lv(bids)},"asks":${lv(asks)},"checksum":${checksum},"timestamp":"2026-09-16T05:20:00.123456Z"}]}`;
}

function sync(events: string[]): BookSync {
  const s = new BookSync({
    rules: kraken.sync,
    checksum: (book, msg) => kraken.checksum!(book, msg, BTC),
    listener: {
      needSnapshot: (r) => events.push(`need ${r}`),
      synced: () => events.push('synced'),
      applied: (_ts, bids, asks) => events.push(`applied ${JSON.stringify(bids)} ${JSON.stringify(asks)}`),
      lost: (r) => events.push(`lost ${r}`),
      checksumFailure: () => events.push('checksum failure'),
    },
  });
  s.start();
  return s;
}

const px = (n: number) => n.toFixed(1);
const qty = (n: number) => n.toFixed(8);

describe('Kraken v2 book checksum (docs: top 10 per side, precision-formatted)', () => {
  it('metadata (written from the docs, no recording) gives the precisions the checksum needs', () => {
    expect(BTC).toMatchObject({ venueSymbol: 'BTC/USD', type: 'spot', tickSize: 0.1, lotSize: 1e-8, contractSize: 1 });
    expect(BTC.source).toMatch(/^venue docs/);
  });

  it('CRC32 is the standard IEEE one, native and fallback alike', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(crc32Fallback('123456789')).toBe(0xcbf43926);
    expect(crc32Fallback('452852100000')).toBe(crc32('452852100000'));
  });

  it('formats the docs example: price 45285.2, qty 0.00100000 → 452852100000', () => {
    expect(krakenChecksumString([[45285.2, 0.001]], [], 1, 8)).toBe('452852100000');
  });

  it('matches numbers whose trailing zeros JSON.parse dropped, on snapshots and updates', () => {
    const bids: [string, string][] = Array.from({ length: 12 }, (_, i) => [px(115000 - i * 0.5), qty(0.5 + i)]);
    const asks: [string, string][] = Array.from({ length: 12 }, (_, i) => [px(115000.5 + i * 0.5), qty(i === 0 ? 0.001 : 2.1)]);
    const events: string[] = [];
    const s = sync(events);
    const [snap] = kraken.parse(frame('snapshot', bids, asks, wireChecksum(asks, bids)), ctx) as [BookSnapshotMsg];
    expect(snap.bids[0]).toEqual([115000, 0.5]); // 115000.0 / 0.50000000 on the wire
    expect(snap.checksum).toBe(wireChecksum(asks, bids));
    s.onSnapshot(snap, 'in-band');
    // Update: the best ask drops to 0.10000000, a bid at 114999.0 is removed (level 3 enters the top 10 from below).
    const asks2 = asks.map((a, i): [string, string] => (i === 0 ? [a[0], qty(0.1)] : a));
    const bids2 = bids.filter((_, i) => i !== 2);
    const [diff] = kraken.parse(frame('update', [[bids[2][0], qty(0)]], [[asks[0][0], qty(0.1)]], wireChecksum(asks2, bids2)), ctx) as [BookDiffMsg];
    s.onDiff(diff);
    expect(events).toEqual(['synced', 'applied [[114999,0]] [[115000.5,0.1]]']);
  });

  it('a checksum mismatch throws the book away and asks for a resubscribe; disabled checks only count', () => {
    const bids: [string, string][] = [[px(100), qty(1)]];
    const asks: [string, string][] = [[px(101), qty(1)]];
    const events: string[] = [];
    const s = sync(events);
    s.onSnapshot(kraken.parse(frame('snapshot', bids, asks, wireChecksum(asks, bids)), ctx)[0] as BookSnapshotMsg, 'in-band');
    s.onDiff(kraken.parse(frame('update', [[px(100), qty(2)]], [], 12345), ctx)[0] as BookDiffMsg);
    expect(events).toEqual(['synced', 'checksum failure', 'lost checksum', 'need checksum']);
    expect(s.synced).toBe(false);
    expect(kraken.resubscribe!(kraken.streams('BTC/USD', 'BTC/USD')[0]).map((m) => JSON.parse(m))).toEqual([
      { method: 'unsubscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: 1000 } },
      { method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD'], depth: 1000, snapshot: true } },
    ]);
    // Without tick/lot precision the checksum cannot be checked: null, never a false alarm.
    const unknown = { ...BTC, tickSize: null };
    expect(kraken.checksum!(s.book, { kind: 'book_snapshot', symbol: 'BTC/USD', ts: 0, bids: [], asks: [], id: null, checksum: 1 }, unknown)).toBeNull();
  });

  it('an insert that pushes a level past the subscribed depth truncates it (and consumers see it deleted)', () => {
    const events: string[] = [];
    const s = sync(events);
    const bids: Level[] = Array.from({ length: KRAKEN_BOOK_DEPTH }, (_, i) => [10000 - i, 1]);
    const asks: Level[] = Array.from({ length: KRAKEN_BOOK_DEPTH }, (_, i) => [10001 + i, 1]);
    const cs = (b: Level[], a: Level[]) => crc32(krakenChecksumString(a, b, 1, 8));
    s.onSnapshot({ kind: 'book_snapshot', symbol: 'BTC/USD', ts: 1, bids, asks, id: null, checksum: cs(bids, asks) }, 'in-band');
    const bids2: Level[] = [[10000.5, 3], ...bids.slice(0, -1)];
    s.onDiff({ kind: 'book_diff', symbol: 'BTC/USD', ts: 2, bids: [[10000.5, 3]], asks: [], first: null, last: null, prev: null, checksum: cs(bids2, asks) });
    expect(s.book.bids.size).toBe(KRAKEN_BOOK_DEPTH);
    expect(s.book.bids.has(10000 - (KRAKEN_BOOK_DEPTH - 1))).toBe(false);
    expect(events).toEqual(['synced', `applied [[10000.5,3],[${10000 - (KRAKEN_BOOK_DEPTH - 1)},0]] []`]);
  });
});

describe('Kraken v2 message mapping (venues.md §7)', () => {
  it('trade: taker side, integer trade id; trade snapshots (history) are skipped', () => {
    const t = '{"channel":"trade","type":"update","data":[{"symbol":"BTC/USD","side":"sell","price":114999.8,"qty":0.015,"ord_type":"market","trade_id":80341766,"timestamp":"2026-09-16T05:20:00.200001Z"}]}';
    expect(kraken.parse(t, ctx)).toEqual([{ kind: 'trade', symbol: 'BTC/USD', ts: Date.parse('2026-09-16T05:20:00.200Z'), id: '80341766', price: 114999.8, amount: 0.015, side: 'sell', liquidation: false }]);
    expect(kraken.parse(t.replace('"update"', '"snapshot"'), ctx)).toEqual([]);
  });

  it('ticker gives the last price only (spot)', () => {
    const t = '{"channel":"ticker","type":"update","data":[{"symbol":"ETH/USD","bid":4499.9,"bid_qty":1.2,"ask":4500.0,"ask_qty":0.5,"last":4500.0,"volume":1234.5,"vwap":4480.1,"low":4400.0,"high":4550.0,"change":20.0,"change_pct":0.45}]}';
    expect(kraken.parse(t, ctx)).toEqual([{ kind: 'ticker', symbol: 'ETH/USD', ts: ctx.recvTs, lastPrice: 4500 }]);
  });

  it('heartbeat, status, pong and acks are control traffic; a refused subscribe is reported; other symbols ignored', () => {
    expect(kraken.parse('{"channel":"heartbeat"}', ctx)).toEqual([{ kind: 'control', action: 'ignore', detail: 'heartbeat' }]);
    expect(kraken.parse('{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.0"}]}', ctx)[0].kind).toBe('control');
    expect(kraken.parse('{"method":"pong","req_id":2,"time_in":"2026-09-16T05:20:00Z","time_out":"2026-09-16T05:20:00Z"}', ctx)[0].kind).toBe('control');
    expect(kraken.parse('{"method":"subscribe","result":{"channel":"book","depth":1000,"snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"x","time_out":"y"}', ctx)[0].kind).toBe('control');
    const [err] = kraken.parse('{"method":"subscribe","success":false,"error":"Currency pair not supported","symbol":"BTC/USDX","time_in":"x","time_out":"y"}', ctx);
    expect(err).toMatchObject({ kind: 'error', symbol: null });
    expect(kraken.parse('{"method":"unsubscribe","success":false,"error":"Subscription Not Found","symbol":"BTC/USD"}', ctx)[0].kind).toBe('control');
    expect(kraken.parse(frame('update', [], [], 1).replace('BTC/USD', 'DOGE/USD'), ctx)).toEqual([]);
  });

  it('subscribes per channel with the symbol list (book at depth 1000, trades without history); pings are app-level', () => {
    const streams = [...kraken.streams('BTC/USD', 'BTC/USD'), ...kraken.streams('ETH/USD', 'ETH/USD')];
    expect(kraken.onOpen('/v2', streams).map((m) => JSON.parse(m))).toEqual([
      { method: 'subscribe', params: { channel: 'book', symbol: ['BTC/USD', 'ETH/USD'], depth: 1000, snapshot: true } },
      { method: 'subscribe', params: { channel: 'trade', symbol: ['BTC/USD', 'ETH/USD'], snapshot: false } },
      { method: 'subscribe', params: { channel: 'ticker', symbol: ['BTC/USD', 'ETH/USD'], snapshot: true } },
    ]);
    expect(kraken.heartbeat.clientPing?.frame).toBe('{"method":"ping"}');
    expect(kraken.sync.depthLimit).toBe(1000);
  });

  it('bad numbers throw with the symbol; truncated frames are identified', () => {
    const f = frame('update', [[px(1), qty(1)]], [], 1);
    expect(() => kraken.parse(f.replace('"qty":1.00000000', '"qty":"x"'), ctx)).toThrow(/qty/);
    expect(kraken.identify(f.slice(0, 70))).toEqual({ venueSymbol: 'BTC/USD', channel: 'book' });
    expect(kraken.identify('{"channel":"heartbe')).toBeNull();
  });
});
