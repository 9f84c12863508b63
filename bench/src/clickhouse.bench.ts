/**
 * ClickHouse sink: rows/s sustained into the real local server through our sink (bus → row mapping
 * → buffered JSONEachRow batches, one insert in flight, insert_id tagging), beside the bare
 * @clickhouse/client inserting the same rows in the same batch size into the same table (with its
 * 1-minute rollup view) — runs alternate. Each run: N trades published on a MemoryBus, timed until
 * sink.flush() resolves (every row acknowledged by ClickHouse).
 */
import { randomUUID } from 'node:crypto';
import { MemoryBus } from '@depthwatch/bus';
import { createSinkClient, startClickHouseSink } from '@depthwatch/engine/sink/clickhouse/sink';
import { tradeRow } from '@depthwatch/engine/sink/clickhouse/rows';
import type { Trade } from '@depthwatch/schemas';
import { ensureClickHouse } from '../../infra/local/ensure.ts';
import { log, main, type BenchResult } from './common.ts';
import { unavailable, withPeer, type Figure } from './harness.ts';

const GROUP = 'clickhouse';
const N = Number(process.env['BENCH_CH_ROWS'] ?? 150_000);
const RUNS = Number(process.env['BENCH_CH_RUNS'] ?? 3);
const BATCH = Number(process.env['BENCH_CH_BATCH'] ?? 50_000);
const DB = 'depthwatch_bench';
const SYMBOLS = ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'SOL/USDT:USDT', 'BTC/USDT', 'ETH/USDT', 'SOL/USDT'];

export async function run(): Promise<BenchResult> {
  let url: string;
  try {
    url = await ensureClickHouse();
  } catch (err) {
    return { figures: [unavailable(GROUP, 'rows/s into ClickHouse, sink', 'rows/s', `ClickHouse: ${(err as Error).message.split('\n')[0]}`, '≥ 400 k rows/s; ≥ 80 % of bare')] };
  }
  const client = createSinkClient(url);
  const version = String(((await (await client.query({ query: 'SELECT version() AS v', format: 'JSONEachRow' })).json()) as { v: string }[])[0]?.v);
  const t0ms = Date.now() - 3_600_000;
  const trades: Trade[] = Array.from({ length: N }, (_, i) => ({
    type: 'trade',
    venue: i % 2 ? 'binance-futures' : 'binance',
    symbol: SYMBOLS[i % SYMBOLS.length],
    ts: t0ms + Math.floor(i / 50),
    recvTs: t0ms + Math.floor(i / 50) + 3,
    seq: i + 1,
    id: String(4_000_000_000 + i),
    price: 115_000 + ((i * 7919) % 2000) / 10,
    amount: ((i * 104_729) % 5000) / 1000 + 0.001,
    side: i % 3 ? 'buy' : 'sell',
    liquidation: i % 97 === 0,
  }));

  const ours = async (): Promise<number> => {
    const bus = new MemoryBus();
    const runId = `bench-${randomUUID().slice(0, 8)}`;
    const sink = await startClickHouseSink({ bus, url, database: DB, runId, batchRows: BATCH, maxBufferedRows: N + 1 });
    const t0 = performance.now();
    for (const t of trades) bus.publish('md.trade', `${t.venue}:${t.symbol}`, t);
    await sink.flush();
    const rate = N / ((performance.now() - t0) / 1000);
    if (sink.stats.inserted !== N) throw new Error(`sink inserted ${sink.stats.inserted} of ${N}`);
    await sink.close();
    return rate;
  };

  const bare = async (): Promise<number> => {
    const runId = `bare-${randomUUID().slice(0, 8)}`;
    // Same rows as the sink writes (its mapping, its insert_id column), built before the clock starts.
    const rows = trades.map((t) => ({ ...tradeRow(t, runId), insert_id: 1 }));
    const t0 = performance.now();
    for (let i = 0; i < N; i += BATCH) await client.insert({ table: `${DB}.trades`, values: rows.slice(i, i + BATCH), format: 'JSONEachRow' });
    return N / ((performance.now() - t0) / 1000);
  };

  const oursRuns: number[] = [];
  const bareRuns: number[] = [];
  try {
    // First start migrates the bench database.
    const warm = await startClickHouseSink({ bus: new MemoryBus(), url, database: DB });
    await warm.close();
    for (let r = 0; r < RUNS; r++) {
      oursRuns.push(await ours());
      bareRuns.push(await bare());
      log(`clickhouse run ${r + 1}: sink ${(oursRuns[r] / 1e3).toFixed(0)} k rows/s, bare client ${(bareRuns[r] / 1e3).toFixed(0)} k rows/s`);
    }
  } finally {
    await client.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
    await client.close();
  }
  const figures: Figure[] = [
    withPeer(
      {
        group: GROUP,
        name: `trades rows/s into ClickHouse via the sink, ${BATCH / 1000} k-row batches`,
        unit: 'rows/s',
        runs: oursRuns,
        bar: '≥ 400 k rows/s; ≥ 80 % of bare',
        note:
          `${N} trades per run, sink option batchRows ${BATCH} (its default is 5 000), JSONEachRow, ReplacingMergeTree table + 1-minute rollup view; ` +
          `sink timed from the first publish until flush() resolved (includes event → row mapping); peer: bare client.insert of the same rows (mapped beforehand) in the same batches.`,
      },
      'bare @clickhouse/client insert',
      bareRuns,
    ),
  ];
  return { figures, info: { 'server clickhouse': version } };
}

main(import.meta.url, run);
