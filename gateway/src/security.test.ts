import { afterEach, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import { readFileSync } from 'node:fs';
import { MemoryBus } from '@depthwatch/bus';
import { setLogLevel } from '@depthwatch/ops';
import { ApiKeyRegistry } from './config.ts';
import { ClickHouseHistoryStore, quoteString } from './http/clickhouse-history.ts';
import { parseHistoryRequest } from './http/history.ts';
import { startGateway } from './index.ts';
import { TestClient, sleep } from './testing.ts';

/**
 * API keys: compared in constant time, never logged. The log test turns logging up to `trace`,
 * captures everything pino writes while keys are used in every accepted form (header, Bearer,
 * query) and refused (wrong, truncated, extended keys), on the stream and the history API, and
 * checks that no key — configured or presented — appears in any log line.
 */

const SECRET = 'sk-live-4f1c9a7e2b6d';
const OTHER = 'sk-ops-77aa00bb11cc';
const PRESENTED_BAD = [`${SECRET}x`, SECRET.slice(0, -1), 'sk-guess-0000000000', SECRET.toUpperCase()];

afterEach(() => {
  vi.restoreAllMocks();
  setLogLevel(process.env.DEPTHWATCH_LOG_LEVEL ?? 'silent');
});

describe('API key handling', () => {
  it('never writes a key (configured or presented) to the logs, even at trace level', async () => {
    const captured: string[] = [];
    const grab = (chunk: unknown) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : ArrayBuffer.isView(chunk) ? Buffer.from(chunk.buffer).toString('utf8') : String(chunk));
    };
    // pino writes through sonic-boom (fs.write/fs.writeSync on fd 1); catch stdout writes too.
    const realWriteSync = fs.writeSync;
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
      if (fd === 1 || fd === 2) {
        grab(data);
        return typeof data === 'string' ? Buffer.byteLength(data) : (data as Buffer).length;
      }
      return (realWriteSync as (...a: unknown[]) => number)(fd, data, ...rest);
    }) as typeof fs.writeSync);
    const realWrite = fs.write;
    vi.spyOn(fs, 'write').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
      if (fd === 1 || fd === 2) {
        grab(data);
        const cb = rest.find((r) => typeof r === 'function') as ((err: null, n: number) => void) | undefined;
        const n = typeof data === 'string' ? Buffer.byteLength(data) : (data as Buffer).length;
        if (cb) process.nextTick(() => cb(null, n));
        return;
      }
      return (realWrite as (...a: unknown[]) => void)(fd, data, ...rest);
    }) as typeof fs.write);
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      grab(chunk);
      return true;
    }) as typeof process.stdout.write);
    setLogLevel('trace'); // before the gateway creates its child loggers

    const gw = await startGateway({
      bus: new MemoryBus(),
      port: 0,
      config: { tickMs: 10, apiKeys: [{ name: 'desk', key: SECRET }, { name: 'ops', key: OTHER }] },
      history: { query: async () => { throw new Error('store down'); } },
    });
    try {
      const ws = gw.url.replace(/^http/, 'ws') + '/v1/stream';
      const accepted = [
        await TestClient.connect(gw.url, { headers: { 'x-api-key': SECRET } }),
        await TestClient.connect(gw.url, { headers: { authorization: `Bearer ${OTHER}` } }),
        await TestClient.connect(gw.url, { path: `/v1/stream?apikey=${encodeURIComponent(SECRET)}` }),
      ];
      for (const c of accepted) {
        await c.waitFor((m) => m.type === 'hello');
        await c.request({ op: 'subscribe', channels: ['trades'] });
        c.send('{"op":"nope"}');
        c.send('not json');
      }
      for (const bad of PRESENTED_BAD) {
        await expect(TestClient.connect(gw.url, { headers: { 'x-api-key': bad } })).rejects.toThrow(/401/);
        await expect(TestClient.connect(gw.url, { path: `/v1/stream?apikey=${encodeURIComponent(bad)}` })).rejects.toThrow(/401/);
        expect((await fetch(`${gw.url}/v1/history/trades?apikey=${encodeURIComponent(bad)}`)).status).toBe(401);
      }
      // A history request that fails inside (logged at error level with the error) while carrying a key in the URL.
      expect((await fetch(`${gw.url}/v1/history/trades?venue=binance&symbol=BTC/USDT&apikey=${encodeURIComponent(SECRET)}`)).status).toBe(503);
      expect((await fetch(`${gw.url}/v1/history/trades`, { headers: { 'x-api-key': OTHER } })).status).toBe(503);
      accepted.forEach((c) => c.close());
      await sleep(50);
      void ws;
    } finally {
      await gw.close();
    }
    const text = captured.join('');
    // The capture works: the listening line and debug lines naming the key by its name are there.
    expect(text).toContain('gateway listening');
    expect(text).toMatch(/"key":"desk"/);
    expect(text).toContain('history query failed');
    for (const k of [SECRET, OTHER, ...PRESENTED_BAD, encodeURIComponent(SECRET)]) expect(text, `log output contains ${k}`).not.toContain(k);
  });

  it('compares keys in constant time: SHA-256 digests, timingSafeEqual against every key, no early exit', () => {
    const reg = new ApiKeyRegistry([{ name: 'a', key: SECRET }, { name: 'b', key: OTHER }], 7);
    expect(reg.check(SECRET)).toEqual({ name: 'a', maxConnections: 7 });
    expect(reg.check(OTHER)).toEqual({ name: 'b', maxConnections: 7 });
    for (const bad of [...PRESENTED_BAD, '', null, undefined, 'x'.repeat(10_000)]) expect(reg.check(bad)).toBeNull();
    // Source-level guard (the property is structural; timing measurements would be flaky on shared CI):
    const src = readFileSync(new URL('./config.ts', import.meta.url), 'utf8');
    const check = src.slice(src.indexOf('check(provided'), src.indexOf('\n  }\n', src.indexOf('check(provided')));
    expect(check).toMatch(/createHash\('sha256'\)/);
    expect(check).toMatch(/for \(const e of this\.entries\) \{\s*if \(timingSafeEqual\(digest, e\.digest\) && found === null\) found = e;\s*\}/);
    expect(check).not.toMatch(/===\s*(e\.)?key|key\s*===|return [^;]*\n\s*}\s*\n\s*return/);
  });

  it('history SQL is built only from validated values: injection attempts are refused before any SQL exists', async () => {
    const store = new ClickHouseHistoryStore({ url: 'http://127.0.0.1:1', database: 'depthwatch' });
    try {
      const base = { venue: null, symbol: null, from: null, to: null, limit: 10 };
      const attacks = ["binance' OR 1=1 --", 'binance; DROP TABLE depthwatch.trades', "BTC/USDT' UNION SELECT * FROM system.users --", 'BTC/USDT\\', "BTC/USDT:USDT'"];
      for (const a of attacks) {
        expect(() => store.buildSql('trades', { ...base, venue: a as never })).toThrow(RangeError);
        expect(() => store.buildSql('trades', { ...base, symbol: a })).toThrow(RangeError);
        // …and the HTTP layer refuses them first with a 400.
        const r = parseHistoryRequest('trades', new URLSearchParams({ venue: a, symbol: a }), { maxLimit: 100, defaultLimit: 10 });
        expect(r.ok).toBe(false);
      }
      for (const bad of [NaN, Infinity, -1, 1.5, 2 ** 60]) {
        expect(() => store.buildSql('trades', { ...base, from: bad })).toThrow(RangeError);
        expect(() => store.buildSql('trades', { ...base, limit: bad })).toThrow(RangeError);
      }
      expect(() => store.buildSql('users' as never, base)).toThrow(RangeError);
      expect(() => new ClickHouseHistoryStore({ url: 'http://127.0.0.1:1', database: 'x; DROP DATABASE y' })).toThrow(/database name/);
      expect(() => new ClickHouseHistoryStore({ url: 'http://127.0.0.1:1', runId: "' OR 1=1" })).toThrow(/run id/);
      const sql = store.buildSql('trades', { venue: 'binance', symbol: 'BTC/USDT', from: 1, to: 2, limit: 5 });
      expect(sql).toBe("SELECT * FROM depthwatch.trades FINAL WHERE run_id = '' AND venue = 'binance' AND symbol = 'BTC/USDT' AND ts_ms >= 1 AND ts_ms < 2 ORDER BY ts_ms ASC, seq, id LIMIT 5");
      expect(quoteString("a'b\\c")).toBe("'a\\'b\\\\c'");
    } finally {
      await store.close();
    }
  });
});
