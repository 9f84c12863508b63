import { describe, expect, it } from 'vitest';
import { parseRequest, filterMatches, RequestError } from './stream/protocol.ts';
import { parseHistoryRequest } from './http/history.ts';
import { ClickHouseHistoryStore } from './http/clickhouse-history.ts';

/** ccxt fallback venues (`ccxt:<exchange id>`) through every gateway entry point that takes a venue. */
const LIMITS = { maxFilterItems: 50, defaultBookDepth: 20, maxBookDepth: 500 };
const subscribe = (venues: string[]) => parseRequest(JSON.stringify({ op: 'subscribe', channels: ['trades'], venues }), LIMITS);

describe('gateway: ccxt venue ids', () => {
  it('stream filters accept ccxt:<id> and ccxt prefix patterns, and match only ccxt venues with them', () => {
    const exact = subscribe(['ccxt:gate']);
    const prefix = subscribe(['ccxt:*']);
    const native = subscribe(['binance*']);
    if (exact.op !== 'subscribe' || prefix.op !== 'subscribe' || native.op !== 'subscribe') throw new Error('not a subscribe');
    expect(filterMatches(exact.filter, 'trades', 'ccxt:gate', 'BTC/USDT', 'BTC')).toBe(true);
    expect(filterMatches(exact.filter, 'trades', 'ccxt:gateeu', 'BTC/USDT', 'BTC')).toBe(false);
    expect(filterMatches(prefix.filter, 'trades', 'ccxt:kucoin', 'BTC/USDT', 'BTC')).toBe(true);
    expect(filterMatches(prefix.filter, 'trades', 'okx', 'BTC/USDT', 'BTC')).toBe(false);
    expect(filterMatches(native.filter, 'trades', 'ccxt:binanceusdm', 'BTC/USDT', 'BTC')).toBe(false);
    expect(subscribe(['ccxt:ku*']).op).toBe('subscribe');
  });

  it.each([['ccxt:Gate'], ['ccxt:gate.io'], ['ccxt:'], ["ccxt:gate' OR 1"], ['ccxt:gate:*']])('stream filters refuse %j, naming the ccxt form', (v) => {
    expect(() => subscribe([v])).toThrow(RequestError);
    expect(() => subscribe([v])).toThrow(/ccxt:<exchange id>/);
  });

  it('history accepts ccxt:<id> and builds SQL from it; malformed ccxt ids never reach SQL', async () => {
    const ok = parseHistoryRequest('trades', new URLSearchParams({ venue: 'ccxt:gate' }), { maxLimit: 100, defaultLimit: 10 });
    expect(ok).toMatchObject({ ok: true, query: { venue: 'ccxt:gate' } });
    const store = new ClickHouseHistoryStore({ url: 'http://127.0.0.1:1', database: 'depthwatch' });
    try {
      expect(store.buildSql('trades', { venue: 'ccxt:gate', symbol: null, from: null, to: null, limit: 5 })).toContain("venue = 'ccxt:gate'");
      for (const a of ["ccxt:gate' OR 1=1 --", 'ccxt:gate;DROP', 'ccxt:GATE', 'ccxt:g\\']) {
        expect(() => store.buildSql('trades', { venue: a as never, symbol: null, from: null, to: null, limit: 5 })).toThrow(RangeError);
        const r = parseHistoryRequest('trades', new URLSearchParams({ venue: a }), { maxLimit: 100, defaultLimit: 10 });
        expect(r).toMatchObject({ ok: false, status: 400 });
        if (!r.ok) expect(r.message).toMatch(/ccxt:<exchange id>/);
      }
    } finally {
      await store.close();
    }
  });
});
