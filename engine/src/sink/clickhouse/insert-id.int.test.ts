import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { MemoryBus } from '@depthwatch/bus';
import { metricValue } from '@depthwatch/ops';
import { ensureClickHouse } from '../../../../infra/local/ensure.ts';
import { createSinkClient, startClickHouseSink } from './sink.ts';
import { trade } from './fixtures.ts';

/**
 * The insert-id check in isolation: a proxy in front of the real ClickHouse lets the first INSERT
 * through, waits until ClickHouse has answered (the rows are committed), and then cuts the sink's
 * connection instead of relaying the answer — a lost acknowledgement, deterministically. The sink
 * must find its batch by insert_id and not insert it again: the raw table (read WITHOUT FINAL) and
 * the rollup view each hold the batch exactly once.
 */

const DB = `dwtest_insertid_${Date.now().toString(36)}`;
const RUN = 'lost-ack';
const N = 250;


/** Forwards everything to ClickHouse; the first `cut` INSERTs into `table` are executed but their answers never reach the client. */
function lossyProxy(upstream: URL, table: string, cut: number): Promise<{ server: Server; url: string; cutInserts: () => number }> {
  let cutSoFar = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = new URL(req.url ?? '/', 'http://proxy').searchParams.get('query') ?? '';
      const isInsert = query.startsWith(`INSERT INTO ${table} `);
      const up = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (ures: IncomingMessage) => {
          const body: Buffer[] = [];
          ures.on('data', (c: Buffer) => body.push(c));
          ures.on('end', () => {
            if (isInsert && ures.statusCode === 200 && cutSoFar < cut) {
              cutSoFar++;
              req.socket.destroy(); // committed upstream, never acknowledged downstream
              return;
            }
            res.writeHead(ures.statusCode ?? 502, ures.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      up.on('error', () => req.socket.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cutInserts: () => cutSoFar })),
  );
}

describe('ClickHouse sink: lost insert acknowledgement (real server)', () => {
  let url: string;
  let client: ClickHouseClient;

  beforeAll(async () => {
    url = await ensureClickHouse();
    client = createSinkClient(url);
  });

  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
    await client?.close();
  });

  it('does not insert a batch twice when its acknowledgement is lost: raw rows without FINAL and the rollup count it once', async () => {
    const proxy = await lossyProxy(new URL(url), `${DB}.trades`, 1);
    try {
      const bus = new MemoryBus();
      const failuresBefore = await metricValue('depthwatch_sink_failures_total', { table: 'trades' });
      const skippedBefore = await metricValue('depthwatch_sink_retries_skipped_total', { table: 'trades' });
      const sink = await startClickHouseSink({ bus, url: proxy.url, database: DB, runId: RUN, flushMs: 50, batchRows: 10_000 });
      for (let i = 1; i <= N; i++) {
        const t = trade(i);
        bus.publish('md.trade', `${t.venue}:${t.symbol}`, t);
      }
      await sink.flush();
      await sink.close();
      expect(proxy.cutInserts()).toBe(1);
      expect((await metricValue('depthwatch_sink_failures_total', { table: 'trades' })) - failuresBefore).toBeGreaterThanOrEqual(1);
      expect((await metricValue('depthwatch_sink_retries_skipped_total', { table: 'trades' })) - skippedBefore).toBe(1);
    } finally {
      await new Promise<void>((r) => proxy.server.close(() => r()));
    }
    // No FINAL: a second physical insert of the batch would show here even before any merge.
    const raw = await client.query({ query: `SELECT count() AS c, uniqExact(id) AS u FROM ${DB}.trades WHERE run_id = '${RUN}'`, format: 'JSONEachRow' });
    expect((await raw.json<{ c: string; u: string }>()).map((r) => [Number(r.c), Number(r.u)])).toEqual([[N, N]]);
    const rollup = await client.query({ query: `SELECT countMerge(trades) AS c FROM ${DB}.ohlcv_1m WHERE run_id = '${RUN}'`, format: 'JSONEachRow' });
    expect(Number((await rollup.json<{ c: string }>())[0]!.c)).toBe(N);
  }, 60_000);
});
