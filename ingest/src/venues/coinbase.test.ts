import { describe, expect, it } from 'vitest';
import type { BookDiffMsg, BookSnapshotMsg, ParseContext } from '../sync/adapter.ts';
import { BookSync } from '../sync/book-sync.ts';
import { marketInfo } from '../metadata/index.ts';
import { coinbase } from './coinbase.ts';

const ctx: ParseContext = {
  recvTs: 1789536000500,
  symbolOf: (vs) => ({ 'BTC-USD': 'BTC/USD', 'ETH-USD': 'ETH/USD' })[vs],
  market: (s) => marketInfo('coinbase', s),
};

// venues.md §6 examples (values illustrative, field names exact).
const UPDATE =
  '{"channel":"l2_data","client_id":"","timestamp":"2026-09-16T05:20:00.123456Z","sequence_num":41,"events":[{"type":"update","product_id":"BTC-USD","updates":[{"side":"offer","event_time":"2026-09-16T05:20:00.120001Z","price_level":"115000.21","new_quantity":"0.25"},{"side":"bid","event_time":"2026-09-16T05:20:00.120001Z","price_level":"114990.00","new_quantity":"0"}]}]}';
const TRADES =
  '{"channel":"market_trades","client_id":"","timestamp":"2026-09-16T05:20:00.400Z","sequence_num":42,"events":[{"type":"update","trades":[{"trade_id":"873629412","product_id":"BTC-USD","price":"115000.21","size":"0.0041","side":"BUY","time":"2026-09-16T05:20:00.371Z"}]}]}';
const HEARTBEAT =
  '{"channel":"heartbeats","client_id":"","timestamp":"2026-09-16T05:20:01.000Z","sequence_num":43,"events":[{"current_time":"2026-09-16 05:20:01.000 +0000 UTC","heartbeat_counter":"3049"}]}';
const SNAPSHOT =
  '{"channel":"l2_data","timestamp":"2023-02-09T20:32:50.714964855Z","sequence_num":0,"events":[{"type":"snapshot","product_id":"ETH-USD","updates":[{"side":"bid","event_time":"1970-01-01T00:00:00Z","price_level":"4499.99","new_quantity":"1.5"},{"side":"offer","event_time":"1970-01-01T00:00:00Z","price_level":"4500.01","new_quantity":"2.00000000"}]}]}';

describe('Coinbase Advanced Trade message mapping (venues.md §6)', () => {
  it('l2_data update: conn_seq first, offer = ask, "0" deletes, ts from event_time', () => {
    const out = coinbase.parse(UPDATE, ctx);
    expect(out[0]).toEqual({ kind: 'conn_seq', seq: 41 });
    expect(out[1]).toEqual({ kind: 'book_diff', symbol: 'BTC/USD', ts: Date.parse('2026-09-16T05:20:00.120Z'), bids: [[114990, 0]], asks: [[115000.21, 0.25]], first: null, last: null, prev: null });
  });

  it('l2_data snapshot is an in-band snapshot timed by the envelope (nanosecond timestamps accepted)', () => {
    const [seq, snap] = coinbase.parse(SNAPSHOT, ctx);
    expect(seq).toEqual({ kind: 'conn_seq', seq: 0 });
    expect(snap).toEqual({ kind: 'book_snapshot', symbol: 'ETH/USD', ts: Date.parse('2023-02-09T20:32:50.714Z'), bids: [[4499.99, 1.5]], asks: [[4500.01, 2]], id: null });
  });

  it('market_trades reports the maker side: BUY means a seller took the bid; snapshots (history) are skipped', () => {
    const [, t] = coinbase.parse(TRADES, ctx);
    expect(t).toEqual({ kind: 'trade', symbol: 'BTC/USD', ts: Date.parse('2026-09-16T05:20:00.371Z'), id: '873629412', price: 115000.21, amount: 0.0041, side: 'sell', liquidation: false });
    const hist = TRADES.replace('"type":"update"', '"type":"snapshot"');
    expect(coinbase.parse(hist, ctx)).toEqual([{ kind: 'conn_seq', seq: 42 }]);
  });

  it('heartbeats and subscription acks count in the connection sequence; errors are reported', () => {
    expect(coinbase.parse(HEARTBEAT, ctx)).toEqual([
      { kind: 'conn_seq', seq: 43 },
      { kind: 'control', action: 'ignore', detail: 'heartbeats' },
    ]);
    const ack = '{"channel":"subscriptions","client_id":"","timestamp":"2026-09-16T05:20:00Z","sequence_num":1,"events":[{"subscriptions":{"level2":["BTC-USD"]}}]}';
    expect(coinbase.parse(ack, ctx)[0]).toEqual({ kind: 'conn_seq', seq: 1 });
    expect(coinbase.parse('{"type":"error","message":"Failed to subscribe"}', ctx)).toEqual([{ kind: 'error', symbol: null, channel: null, reason: 'Failed to subscribe' }]);
  });

  it('ignores other products; bad sides and numbers throw with the symbol; truncated frames are identified', () => {
    expect(coinbase.parse(UPDATE.replace('BTC-USD', 'DOGE-USD'), ctx)).toEqual([{ kind: 'conn_seq', seq: 41 }]);
    expect(() => coinbase.parse(UPDATE.replace('"offer"', '"ask"'), ctx)).toThrow(/side/);
    expect(() => coinbase.parse(UPDATE.replace('"0.25"', '"x"'), ctx)).toThrow(/new_quantity/);
    expect(coinbase.identify(UPDATE.slice(0, 200))).toEqual({ venueSymbol: 'BTC-USD', channel: 'book' });
    expect(coinbase.identify(TRADES.slice(0, 230))).toEqual({ venueSymbol: 'BTC-USD', channel: 'trade' });
    expect(coinbase.identify(HEARTBEAT.slice(0, 50))).toBeNull();
  });

  it('subscribes heartbeats first and one channel per message; resubscribe renews only that product’s level2', () => {
    const streams = [...coinbase.streams('BTC/USD', 'BTC-USD'), ...coinbase.streams('ETH/USD', 'ETH-USD')];
    expect(coinbase.onOpen('/', streams).map((m) => JSON.parse(m))).toEqual([
      { type: 'subscribe', channel: 'heartbeats' },
      { type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channel: 'level2' },
      { type: 'subscribe', product_ids: ['BTC-USD', 'ETH-USD'], channel: 'market_trades' },
    ]);
    expect(coinbase.resubscribe!(streams[0]).map((m) => JSON.parse(m))).toEqual([
      { type: 'unsubscribe', product_ids: ['BTC-USD'], channel: 'level2' },
      { type: 'subscribe', product_ids: ['BTC-USD'], channel: 'level2' },
    ]);
    expect(coinbase.toVenueSymbol('SOL/USD')).toBe('SOL-USD');
    expect(marketInfo('coinbase', 'SOL/USD')).toMatchObject({ venueSymbol: 'SOL-USD', type: 'spot', tickSize: 0.01, lotSize: 1e-8, source: expect.stringMatching(/^venue docs/) });
    expect(coinbase.connectUrl('wss://advanced-trade-ws.coinbase.com/', '/', streams)).toBe('wss://advanced-trade-ws.coinbase.com');
  });

  it('deletes of levels never published are ignored: the book stays synced', () => {
    const events: string[] = [];
    const sync = new BookSync({
      rules: coinbase.sync,
      listener: { needSnapshot: (r) => events.push(`need ${r}`), synced: () => events.push('synced'), applied: () => events.push('applied'), lost: (r) => events.push(`lost ${r}`), checksumFailure: () => events.push('checksum') },
    });
    sync.start();
    const [, snap] = coinbase.parse(SNAPSHOT, ctx) as [unknown, BookSnapshotMsg];
    sync.onSnapshot(snap, 'in-band');
    const del = SNAPSHOT.replace('"type":"snapshot"', '"type":"update"').replace('"4500.01","new_quantity":"2.00000000"', '"4600.00","new_quantity":"0"');
    const [, diff] = coinbase.parse(del, ctx) as [unknown, BookDiffMsg];
    sync.onDiff(diff);
    expect(events).toEqual(['synced', 'applied']);
    expect(sync.book.sorted('ask')).toEqual([[4500.01, 2]]);
  });
});
