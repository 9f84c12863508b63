import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { VenueId } from '@depthwatch/schemas';
import { startClickHouseSink } from '@depthwatch/engine/sink/clickhouse/sink';
import { T0, alert, depth, liquidation, trade } from '@depthwatch/engine/sink/clickhouse/fixtures';
import { ensureClickHouse } from '../../../infra/local/ensure.ts';
import { ClickHouseHistoryStore } from './clickhouse-history.ts';
import type { HistoryQuery } from './history-store.ts';

const DB = `dwtest_hist_${Date.now().toString(36)}`;
const q = (o: Partial<HistoryQuery> = {}): HistoryQuery => ({ venue: null, symbol: null, from: null, to: null, limit: 100, ...o });

describe('ClickHouseHistoryStore (real server)', () => {
  let store: ClickHouseHistoryStore;

  beforeAll(async () => {
    const url = await ensureClickHouse();
    const bus = new MemoryBus();
    const sink = await startClickHouseSink({ bus, url, database: DB, flushMs: 20 });
    for (let i = 0; i < 10; i++) {
      bus.publish('md.trade', 'k', trade(i, { ts: T0 + i * 1000 }));
      // a retried insert could write a row twice: the store must still return it once
      if (i === 3) bus.publish('md.trade', 'k', trade(i, { ts: T0 + i * 1000 }));
      bus.publish('md.trade', 'k', trade(100 + i, { venue: 'okx', ts: T0 + i * 1000 }));
      if (i < 3) bus.publish('md.trade', 'k', trade(200 + i, { venue: 'ccxt:gate', ts: T0 + i * 1000 }));
    }
    bus.publish('md.liquidation', 'k', liquidation(1));
    bus.publish('out.depth', 'k', depth(1));
    bus.publish('out.alert', 'k', alert(1));
    await sink.flush();
    await sink.close();
    store = new ClickHouseHistoryStore({ url, database: DB });
  });

  afterAll(async () => {
    await store?.client.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
    await store?.close();
  });

  it('returns each kind as events, deduplicated and ascending', async () => {
    const trades = await store.query('trades', q({ venue: 'binance-futures' }));
    expect(trades.map((t) => t.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(trades[3]).toEqual(trade(3, { ts: T0 + 3000 }));
    expect(await store.query('liquidations', q())).toEqual([liquidation(1)]);
    expect(await store.query('depth', q({ symbol: 'BTC/USDT:USDT' }))).toEqual([depth(1)]);
    expect(await store.query('alerts', q())).toEqual([alert(1)]);
    expect(store.health().ready).toBe(true);
  });

  it('applies from (inclusive), to (exclusive) and limit like the memory store', async () => {
    const v = { venue: 'okx' as VenueId };
    expect((await store.query('trades', q({ ...v, from: T0 + 2000, to: T0 + 5000 }))).map((t) => t.seq)).toEqual([102, 103, 104]);
    // with from: the oldest `limit`; without: the newest `limit`, still ascending
    expect((await store.query('trades', q({ ...v, from: T0, limit: 3 }))).map((t) => t.seq)).toEqual([100, 101, 102]);
    expect((await store.query('trades', q({ ...v, limit: 3 }))).map((t) => t.seq)).toEqual([107, 108, 109]);
  });

  it('stores and filters ccxt fallback venues (venue columns are plain strings)', async () => {
    const rows = await store.query('trades', q({ venue: 'ccxt:gate' }));
    expect(rows.map((t) => [t.venue, t.seq])).toEqual([['ccxt:gate', 200], ['ccxt:gate', 201], ['ccxt:gate', 202]]);
    expect(await store.query('trades', q({ venue: 'ccxt:kucoin' }))).toEqual([]);
    await expect(store.query('trades', q({ venue: "ccxt:gate' OR 1=1 --" as VenueId }))).rejects.toThrow(/invalid venue/);
  });

  it('refuses anything that is not validated, instead of pasting it into SQL', async () => {
    await expect(store.query('trades', q({ venue: "okx' OR 1=1 --" as VenueId }))).rejects.toThrow(/invalid venue/);
    await expect(store.query('trades', q({ symbol: "BTC/USDT' OR '1'='1" }))).rejects.toThrow(/invalid symbol/);
    await expect(store.query('trades', q({ from: 1.5 }))).rejects.toThrow(/integer ms/);
    await expect(store.query('trades', q({ to: -1 }))).rejects.toThrow(/integer ms/);
    await expect(store.query('trades', q({ limit: 10_001 }))).rejects.toThrow(/limit/);
    await expect(store.query('trades', q({ limit: 0 }))).rejects.toThrow(/limit/);
    await expect(store.query('nope' as 'trades', q())).rejects.toThrow(/unknown history kind/);
    expect(() => new ClickHouseHistoryStore({ url: 'http://x', database: 'a; DROP' })).toThrow(/database name/);
  });
});
