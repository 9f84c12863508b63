import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { startGateway, type Gateway } from '../index.ts';
import { alertEvent, depthEvent, liquidationEvent, tradeEvent } from '../testing.ts';
import { MemoryHistoryStore, type HistoryQuery } from './history-store.ts';
import { historyCsv, parseHistoryRequest } from './history.ts';

const BTC = 'BTC/USDT:USDT';
const LIMITS = { maxLimit: 10_000, defaultLimit: 1000 };

let gw: Gateway | null = null;
afterEach(async () => {
  await gw?.close();
  gw = null;
});

describe('history request validation', () => {
  const parse = (kind: string, qs: string) => parseHistoryRequest(kind, new URLSearchParams(qs), LIMITS);

  it('accepts a full valid query and types it', () => {
    expect(parse('trades', `venue=okx&symbol=${encodeURIComponent(BTC)}&from=1000&to=2000&limit=5&format=csv`)).toEqual({
      ok: true, kind: 'trades', format: 'csv', query: { venue: 'okx', symbol: BTC, from: 1000, to: 2000, limit: 5 },
    });
    expect(parse('depth', '')).toEqual({ ok: true, kind: 'depth', format: 'json', query: { venue: null, symbol: null, from: null, to: null, limit: 1000 } });
  });

  it.each([
    ['venue=nowhere', /venue "nowhere" is not a venue id/],
    ['symbol=btc-usdt', /not a unified symbol/],
    ['symbol=BTC%2FUSDT%3BDROP', /not a unified symbol/],
    ['from=abc', /from must be an integer/],
    ['from=1.5', /from must be an integer/],
    ['to=-5', /to must be an integer/],
    ['from=2000&to=1000', /from must be less than to/],
    ['limit=0', /limit must be an integer in 1\.\.10000/],
    ['limit=10001', /limit must be an integer in 1\.\.10000/],
    ['limit=ten', /limit must be an integer/],
    ['format=xml', /format must be json or csv/],
    ['venue=okx&venue=bybit', /more than once/],
    ['since=5', /unknown parameter "since"/],
    ['from=99999999999999999', /out of range/],
  ])('rejects %s', (qs, msg) => {
    const r = parse('trades', qs);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.status).toBe(400);
      expect(r.message).toMatch(msg);
    }
  });

  it('rejects unknown kinds with 404', () => {
    expect(parse('orders', '')).toMatchObject({ ok: false, status: 404, code: 'unknown_kind' });
  });
});

describe('memory history store', () => {
  it('filters, orders by ts, and keeps the oldest (with from) or newest (without) rows beyond the limit', async () => {
    const store = new MemoryHistoryStore(100);
    for (let i = 0; i < 150; i++) store.record('trades', { ...tradeEvent(i % 2 ? 'okx' : 'bybit', BTC, i), ts: 1000 + i });
    store.record('trades', { ...tradeEvent('okx', 'ETH/USDT', 999), ts: 1 }); // out of order arrival
    const q = (p: Partial<HistoryQuery>) => store.query('trades', { venue: null, symbol: null, from: null, to: null, limit: 1000, ...p });
    const all = await q({});
    expect(all).toHaveLength(100); // bounded ring
    expect(all[0].seq).toBe(999);
    expect(all.map((r) => r.ts)).toEqual([...all.map((r) => r.ts)].sort((a, b) => a - b));
    const okx = await q({ venue: 'okx', symbol: BTC, from: 1100, to: 1120 });
    expect(okx.map((r) => r.seq)).toEqual([101, 103, 105, 107, 109, 111, 113, 115, 117, 119]);
    expect((await q({ from: 1100, limit: 3 })).map((r) => r.seq)).toEqual([100, 101, 102]);
    expect((await q({ limit: 3 })).map((r) => r.seq)).toEqual([147, 148, 149]);
  });

  it('writes CSV with a header, flattened bands and escaped text', () => {
    const csv = historyCsv('alerts', [alertEvent('a,1', { explanation: 'says "hi", then\nleaves' }), alertEvent('a2', { explanation: '=cmd()' })]);
    const lines = csv.split('\r\n');
    expect(lines[0].split(',').slice(0, 6)).toEqual(['ts', 'venue', 'symbol', 'seq', 'id', 'kind']);
    expect(csv).toContain('"a,1"');
    expect(csv).toContain('"says ""hi"", then\nleaves"');
    expect(csv).toContain(",'=cmd()");
    const depth = historyCsv('depth', [depthEvent('okx', BTC, 60_000, 1, { ts: 5 })]).split('\r\n');
    const header = depth[0].split(',');
    const row = depth[1].split(',');
    expect(header).toContain('bidQuote_2pct');
    expect(Number(row[header.indexOf('bidQuote_2pct')])).toBe(2 * 10 * 60_000);
    expect(row[header.indexOf('truncated_10pct')]).toBe('true');
    expect(header.length).toBe(row.length);
  });
});

describe('history HTTP API', () => {
  it('serves JSON and CSV from the memory store fed by the bus, and 400s with a clear error', async () => {
    const bus = new MemoryBus();
    gw = await startGateway({ bus, port: 0 });
    for (let i = 1; i <= 20; i++) {
      bus.publish('md.liquidation', BTC, liquidationEvent(i % 2 ? 'okx' : 'bybit', BTC, i, 1000 * i, 10_000 + i));
      bus.publish('md.trade', BTC, { ...tradeEvent('okx', BTC, i), ts: 10_000 + i });
      bus.publish('out.depth', BTC, depthEvent('okx', BTC, 60_000 + i, i, { ts: 10_000 + i }));
    }
    bus.publish('out.alert', 'BTC', alertEvent('al1', { ts: 10_005 }));
    const get = async (path: string) => {
      const res = await fetch(gw!.url + path);
      return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
    };
    const sym = encodeURIComponent(BTC);
    const j = await get(`/v1/history/liquidations?venue=okx&symbol=${sym}&from=10005&to=10015&limit=3`);
    expect(j.status).toBe(200);
    expect(j.type).toBe('application/json');
    const body = JSON.parse(j.body);
    expect(body).toMatchObject({ kind: 'liquidations', count: 3, limit: 3, truncated: true });
    expect(body.rows.map((r: { seq: number }) => r.seq)).toEqual([5, 7, 9]);
    expect(body.rows[0]).toEqual(liquidationEvent('okx', BTC, 5, 5000, 10_005));

    const csv = await get(`/v1/history/trades?symbol=${sym}&format=csv&limit=2`);
    expect(csv.status).toBe(200);
    expect(csv.type).toMatch(/^text\/csv/);
    const lines = csv.body.trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('ts,venue,symbol,seq,recvTs,id,price,amount,side,liquidation');
    expect(lines[2].startsWith('10020,okx,BTC/USDT:USDT,20,')).toBe(true);

    expect(JSON.parse((await get('/v1/history/depth?limit=1')).body).rows[0].mid).toBe(60_020);
    expect(JSON.parse((await get('/v1/history/alerts')).body).rows[0].id).toBe('al1');

    const bad = await get('/v1/history/trades?limit=0');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({ type: 'error', code: 'bad_parameter', message: 'limit must be an integer in 1..10000, got "0"' });
    expect((await get('/v1/history/trades?venue=mtgox')).status).toBe(400);
    expect((await get(`/v1/history/trades?symbol=${encodeURIComponent("BTC/USDT' OR 1=1")}`)).status).toBe(400);
    expect((await get('/v1/history/orders')).status).toBe(404);
  });

  it('uses a provided store and reports its failures as 503', async () => {
    const calls: HistoryQuery[] = [];
    gw = await startGateway({
      bus: new MemoryBus(),
      port: 0,
      history: {
        async query(_kind, params) {
          calls.push(params);
          throw new Error('clickhouse down');
        },
      },
    });
    const res = await fetch(`${gw.url}/v1/history/trades?venue=okx&from=1&to=2&limit=10`);
    expect(res.status).toBe(503);
    expect(calls).toEqual([{ venue: 'okx', symbol: null, from: 1, to: 2, limit: 10 }]);
  });
});
