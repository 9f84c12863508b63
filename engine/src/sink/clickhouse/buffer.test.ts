import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { logger, metricValue } from '@depthwatch/ops';
import { SinkBuffer } from './buffer.ts';
import { startClickHouseSink } from './sink.ts';
import { trade } from './fixtures.ts';

const log = logger('test.sink-buffer');


describe('SinkBuffer', () => {
  it('drop policy: keeps the oldest rows up to the cap and counts every newer row dropped', async () => {
    const before = await metricValue('depthwatch_sink_dropped_rows_total', { table: 'trades' });
    const buf = new SinkBuffer({ maxRows: 100, policy: { kind: 'drop' }, log });
    const results = Array.from({ length: 130 }, (_, i) => buf.push('trades', { id: `t${i}`, ts_ms: i }));
    expect(results.filter(Boolean)).toHaveLength(100);
    expect(results.slice(0, 100).every(Boolean)).toBe(true);
    expect(buf.buffered).toBe(100);
    expect(buf.dropped).toBe(30);
    expect(buf.tables.trades.rows.map((r) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => `t${i}`));
    expect((await metricValue('depthwatch_sink_dropped_rows_total', { table: 'trades' })) - before).toBe(30);
    // Room again once rows are inserted.
    buf.tables.trades.cut(40);
    buf.inserted(40);
    expect(buf.push('trades', { id: 'late', ts_ms: 200 })).toBe(true);
    expect(buf.backpressure).toBe(false);
  });

  it('back-pressure policy: pauses once at the cap, drops nothing, resumes when drained to half', async () => {
    const calls: string[] = [];
    const pausesBefore = await metricValue('depthwatch_sink_backpressure_pauses_total');
    const buf = new SinkBuffer({ maxRows: 100, policy: { kind: 'backpressure', pause: () => calls.push('pause'), resume: () => calls.push('resume') }, log });
    for (let i = 0; i < 99; i++) buf.push('trades', { id: `t${i}`, ts_ms: i });
    expect(calls).toEqual([]);
    expect(buf.push('depth', { ts_ms: 99 })).toBe(true);
    expect(calls).toEqual(['pause']);
    expect(buf.backpressure).toBe(true);
    expect(await metricValue('depthwatch_sink_backpressure')).toBe(1);
    // Rows delivered before the pause took effect are kept, never dropped.
    for (let i = 0; i < 5; i++) expect(buf.push('trades', { id: `x${i}`, ts_ms: 100 + i })).toBe(true);
    expect(buf.buffered).toBe(105);
    expect(buf.dropped).toBe(0);
    expect(calls).toEqual(['pause']);
    buf.inserted(54); // 51 left: still above half
    expect(calls).toEqual(['pause']);
    buf.inserted(1); // 50 = half
    expect(calls).toEqual(['pause', 'resume']);
    expect(buf.backpressure).toBe(false);
    expect(await metricValue('depthwatch_sink_backpressure')).toBe(0);
    expect((await metricValue('depthwatch_sink_backpressure_pauses_total')) - pausesBefore).toBe(1);
    expect(buf.pauses).toBe(1);
  });
});

/**
 * A stand-in ClickHouse HTTP endpoint: answers the migrations (empty results), then refuses every
 * insert while `down` — the sink sees exactly what a dead server's HTTP errors look like.
 */
function fakeClickHouse(): Promise<{ server: Server; url: string; state: { down: boolean; inserted: number } }> {
  const state = { down: false, inserted: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
      const isInsert = /^INSERT INTO \w+\.trades/.test(query);
      if (isInsert && state.down) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('Code: 210. DB::NetException: Connection refused (fake outage)');
        return;
      }
      if (isInsert) state.inserted += Buffer.concat(chunks).toString().split('\n').filter(Boolean).length;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(query.includes('count()') ? '{"c":"0"}\n' : '');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, state, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe('ClickHouse sink on the in-memory bus, ClickHouse down', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('fills its buffer to maxBufferedRows, then drops and counts newer rows (no durable upstream), and inserts the kept ones', async () => {
    const fake = await fakeClickHouse();
    server = fake.server;
    const bus = new MemoryBus();
    const sink = await startClickHouseSink({ bus, url: fake.url, database: 'dwunit', flushMs: 20, batchRows: 50, maxBufferedRows: 300 });
    const before = await metricValue('depthwatch_sink_dropped_rows_total', { table: 'trades' });
    fake.state.down = true;
    for (let i = 0; i < 1_000; i++) bus.publish('md.trade', 'binance-futures:BTC/USDT:USDT', trade(i, { id: `t${i}` }));
    expect(sink.stats.buffered).toBe(300);
    expect(sink.stats.dropped).toBe(700);
    expect(sink.stats.backpressure).toBe(false);
    expect((await metricValue('depthwatch_sink_dropped_rows_total', { table: 'trades' })) - before).toBe(700);
    expect(sink.health().details.buffer).toBe('full: dropping rows');
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.stats.failures).toBeGreaterThan(0);
    expect(sink.stats.inserted).toBe(0);
    fake.state.down = false;
    await sink.flush();
    expect(sink.stats.inserted).toBe(300);
    expect(fake.state.inserted).toBe(300);
    expect(sink.stats.buffered).toBe(0);
    await sink.close();
  });
});
