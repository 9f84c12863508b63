import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Bus, DeliveryMark, Stage, StageHealth } from '@depthwatch/schemas';
import { LATENCY_BUCKETS, counter, histogram, logger } from '@depthwatch/ops';
import { SinkBuffer, type Batch, type OverflowPolicy } from './buffer.ts';
import { RedeliveryFilter } from './redelivery.ts';
import { assertDatabaseName, migrate } from './migrations.ts';
import { SINK_TABLES, alertRow, assetDepthRow, depthRow, liquidationRow, statusRow, tickerRow, tradeRow, type Row, type SinkTable } from './rows.ts';

export interface ClickHouseSinkOptions {
  bus: Bus;
  /** e.g. http://127.0.0.1:18123 */
  url: string;
  database?: string;
  /** Stored in every row's run_id ('' = live). Replays use their own id so they never mix with live rows. */
  runId?: string;
  /** Insert as soon as a table has this many rows buffered (default 5 000). */
  batchRows?: number;
  /** Otherwise insert whatever is buffered every flushMs (default 1 000). */
  flushMs?: number;
  /**
   * Bound on rows held in memory across tables (default 500 000). At the bound a sink on a bus with
   * checkpoints and pause (Kafka) pauses its consumer group until inserts drain the buffer to half
   * (back-pressure: nothing dropped); on the in-memory bus new rows are dropped and counted.
   */
  maxBufferedRows?: number;
  /** Consumer group on a Kafka bus (default 'depthwatch-sink'); sink instances in one group share the keys. */
  group?: string;
  /**
   * On a bus with checkpoints: rows delivered within this long of the first delivery are checked
   * against ClickHouse before insert, for rows a killed predecessor inserted after its last commit,
   * so the rollup views do not count them twice (default 30 000 ms).
   */
  redeliveryCheckMs?: number;
  username?: string;
  password?: string;
}

export interface ClickHouseSink extends Stage {
  /** Resolves when every row buffered before the call is inserted (retrying while ClickHouse is down). */
  flush(): Promise<void>;
  /**
   * `commits`: bus checkpoints committed (Kafka: offsets of rows already inserted); `backpressure`:
   * the consumer group is paused right now because the buffer is full; `pauses`: times it was.
   */
  readonly stats: { inserted: number; dropped: number; buffered: number; failures: number; batches: number; commits: number; backpressure: boolean; pauses: number };
}

const rowsInserted = counter<'table'>({ name: 'depthwatch_sink_rows_inserted_total', help: 'Rows inserted into ClickHouse', labelNames: ['table'] });
const batchesTotal = counter<'table'>({ name: 'depthwatch_sink_batches_total', help: 'Insert batches committed', labelNames: ['table'] });
const failuresTotal = counter<'table'>({ name: 'depthwatch_sink_failures_total', help: 'Failed insert attempts (retried with backoff)', labelNames: ['table'] });
const retriesSkipped = counter<'table'>({
  name: 'depthwatch_sink_retries_skipped_total',
  help: 'Retries not sent because the failed attempt had landed after all (its acknowledgement was lost): found by insert_id',
  labelNames: ['table'],
});
const commitsTotal = counter({ name: 'depthwatch_sink_commits_total', help: 'Bus checkpoints committed after every row delivered before them was inserted' });
const commitFailuresTotal = counter({ name: 'depthwatch_sink_commit_failures_total', help: 'Bus checkpoints that failed to commit (retried at the next cycle)' });
const insertLatency = histogram<'table'>({ name: 'depthwatch_sink_insert_latency_seconds', help: 'Duration of successful inserts', labelNames: ['table'], buckets: LATENCY_BUCKETS });

/** 18.16 closes idle keep-alive sockets after 3 s: stay well below so we never write to a closed socket. */
export const IDLE_SOCKET_TTL_MS = 2_000;

/** Backoff between ClickHouse attempts of one batch (insert or redelivery check): 100 ms doubling to 5 s. */
const retryDelayMs = (attempt: number): number => Math.min(5_000, 100 * 2 ** Math.min(attempt, 6));

export function createSinkClient(url: string, username?: string, password?: string): ClickHouseClient {
  return createClient({
    url,
    username: username ?? 'default',
    password: password ?? '',
    request_timeout: 30_000,
    keep_alive: { enabled: true, idle_socket_ttl: IDLE_SOCKET_TTL_MS },
    compression: { request: false, response: false },
    // The client's own logger prints every refused connection to stderr; the sink logs failures itself (rate-limited).
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/**
 * Bus → ClickHouse. Subscribes md.trade, md.liquidation, md.ticker, md.status, out.depth (depth and
 * the cross-venue asset_depth, each to its table), out.alert; buffers rows per table; inserts JSONEachRow batches bounded by size (batchRows) and
 * time (flushMs), one insert in flight. A failed insert is retried with backoff (100 ms … 5 s)
 * for as long as it takes; before a retry the sink asks ClickHouse whether the batch (tagged with
 * a random insert_id) already landed, so an insert whose acknowledgement was lost is not written
 * twice (and the rollup views do not count it twice). Rows that would be written twice anyway
 * collapse in the ReplacingMergeTree tables (read with FINAL).
 * While ClickHouse is down the buffer fills up to maxBufferedRows. Then, on Kafka, the sink pauses
 * its own consumer group (back-pressure, depthwatch_sink_backpressure = 1): the records stay in the
 * log, uncommitted, and are delivered after inserts have drained the buffer to half. The engine
 * and gateway read through their own groups and are not slowed. On the in-memory bus (no durable
 * upstream) the buffer keeps the OLDEST rows; newer rows are dropped, counted in
 * depthwatch_sink_dropped_rows_total{table} and logged.
 *
 * Crash safety: on a bus with checkpoints (Kafka) the sink's group commits manually — every
 * flushMs it takes a delivery mark, waits until every row buffered before the mark is inserted,
 * then commits the mark (and once more on close). A killed process loses nothing: its successor
 * resumes after the last commit, and rows inserted after it are delivered and inserted again,
 * collapsing in the raw tables under FINAL (rollup views count them twice: docs/clickhouse.md).
 */
export async function startClickHouseSink(opts: ClickHouseSinkOptions): Promise<ClickHouseSink> {
  const db = assertDatabaseName(opts.database ?? 'depthwatch');
  const runId = opts.runId ?? '';
  const batchRows = opts.batchRows ?? 5_000;
  const flushMs = opts.flushMs ?? 1_000;
  const maxBuffered = opts.maxBufferedRows ?? 500_000;
  const group = opts.group ?? 'depthwatch-sink';
  const log = logger('sink.clickhouse', { database: db, runId });
  const client = createSinkClient(opts.url, opts.username, opts.password);

  try {
    await migrate(client, db);
  } catch (err) {
    await client.close().catch(() => {});
    throw new Error(`ClickHouse sink: cannot migrate ${db} at ${opts.url}: ${(err as Error).message}`);
  }

  const bus = opts.bus;
  /** Commit-after-insert when the bus supports checkpoints (Kafka); the in-memory bus has nothing to commit. */
  const checkpoints = typeof bus.deliveryMark === 'function' && typeof bus.commit === 'function';
  // Back-pressure only where the records not yet inserted stay in a durable log until committed.
  const policy: OverflowPolicy =
    checkpoints && typeof bus.pause === 'function' && typeof bus.resume === 'function'
      ? { kind: 'backpressure', pause: () => bus.pause!(group), resume: () => bus.resume!(group) }
      : { kind: 'drop' };
  const buffer = new SinkBuffer({ maxRows: maxBuffered, policy, log });
  const redelivery = checkpoints
    ? new RedeliveryFilter(
        {
          db,
          runId,
          windowMs: opts.redeliveryCheckMs ?? 30_000,
          select: async (query) => (await client.query({ query, format: 'JSONEachRow' })).json<Record<string, unknown>>(),
        },
      )
    : null;
  const buffers = buffer.tables;
  let inserted = 0;
  let failures = 0;
  let batches = 0;
  let commits = 0;
  const stats: ClickHouseSink['stats'] = {
    get inserted() { return inserted; },
    get dropped() { return buffer.dropped; },
    get buffered() { return buffer.buffered; },
    get failures() { return failures; },
    get batches() { return batches; },
    get commits() { return commits; },
    get backpressure() { return buffer.backpressure; },
    get pauses() { return buffer.pauses; },
  };
  let lastError: string | null = null;
  let closed = false;
  /** Set at close on a checkpointing bus: rows delivered after the final mark are left for the next instance. */
  let accepting = true;
  let abandon = false;
  let running = false;
  let waiters: { resolve: () => void; reject: (e: Error) => void; targets: Record<SinkTable, number> }[] = [];
  /** Rows ever accepted per table; with `done` this tells flush() waiters when their rows are in. */
  const accepted = Object.fromEntries(SINK_TABLES.map((t) => [t, 0])) as Record<SinkTable, number>;
  const done = Object.fromEntries(SINK_TABLES.map((t) => [t, 0])) as Record<SinkTable, number>;

  function push(table: SinkTable, row: Row): void {
    if (!accepting) return; // after the final mark: not committed, so delivered again to the next instance
    if (closed) {
      buffer.countDropped(table, 1, 'row delivered after the sink closed: dropped');
      return;
    }
    if (!buffer.push(table, row)) return;
    redelivery?.admit(table, row);
    accepted[table]++;
    if (buffers[table].queued >= batchRows) kick();
  }

  const unsubs: (() => Promise<void>)[] = [];
  const sub = { group, manualCommit: checkpoints };
  unsubs.push(
    await opts.bus.subscribe('md.trade', (e) => push('trades', tradeRow(e, runId)), sub),
    await opts.bus.subscribe('md.liquidation', (e) => push('liquidations', liquidationRow(e, runId)), sub),
    await opts.bus.subscribe('md.ticker', (e) => push('tickers', tickerRow(e, runId)), sub),
    await opts.bus.subscribe('md.status', (e) => push('feed_status', statusRow(e, runId)), sub),
    await opts.bus.subscribe('out.depth', (e) => (e.type === 'asset_depth' ? push('asset_depth', assetDepthRow(e, runId)) : push('depth', depthRow(e, runId))), sub),
    await opts.bus.subscribe('out.alert', (e) => push('alerts', alertRow(e, runId)), sub),
  );

  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

  async function alreadyInserted(table: SinkTable, batch: Batch): Promise<number> {
    // insert_id is our own integer and the ts bounds are numbers: nothing external reaches the SQL.
    const rs = await client.query({
      query: `SELECT count() AS c FROM ${db}.${table} WHERE ts_ms >= ${batch.minTs} AND ts_ms <= ${batch.maxTs} AND insert_id = ${batch.insertId}`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ c: string | number }>();
    return Number(rows[0]?.c ?? 0);
  }

  /** The batch's rows a predecessor has not inserted yet; retried like an insert while ClickHouse is down. */
  async function uncheckedRowsOf(table: SinkTable, batch: Batch): Promise<Batch['rows']> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await redelivery!.unseen(table, batch.rows);
      } catch (err) {
        failures++;
        failuresTotal.inc({ table });
        if (abandon) throw err;
        await sleep(retryDelayMs(attempt));
        if (abandon) throw err;
      }
    }
  }

  async function insertBatch(table: SinkTable, batch: Batch): Promise<void> {
    for (;;) {
      try {
        if (batch.attempts > 0) {
          const found = await alreadyInserted(table, batch);
          if (found === batch.rows.length) {
            log.warn({ table, rows: found, insertId: batch.insertId }, 'previous attempt had landed; not inserting again');
            retriesSkipped.inc({ table });
            return;
          }
          if (found > 0) log.warn({ table, found, rows: batch.rows.length }, 'previous attempt landed partly; re-inserting (raw tables deduplicate under FINAL)');
        }
        batch.attempts++;
        const t0 = performance.now();
        await client.insert({ table: `${db}.${table}`, values: batch.rows, format: 'JSONEachRow' });
        insertLatency.observe({ table }, (performance.now() - t0) / 1000);
        if (lastError) log.info({ table, rows: batch.rows.length }, 'ClickHouse inserts recovered');
        lastError = null;
        return;
      } catch (err) {
        failures++;
        failuresTotal.inc({ table });
        const msg = (err as Error).message;
        const delay = retryDelayMs(batch.attempts);
        if (lastError !== msg) log.error({ table, err: msg, rows: batch.rows.length, buffered: buffer.buffered, retryInMs: delay }, 'ClickHouse insert failed; retrying');
        lastError = msg;
        if (abandon) throw err;
        await sleep(delay);
        if (abandon) throw err;
      }
    }
  }

  async function drain(): Promise<void> {
    if (running) return;
    running = true;
    try {
      let progress = true;
      while (progress) {
        progress = false;
        for (const table of SINK_TABLES) {
          const b = buffers[table];
          if (b.queued === 0) continue;
          const cut = b.cut(batchRows);
          let minTs = Number.MAX_SAFE_INTEGER;
          let maxTs = 0;
          const insertId = Math.floor(Math.random() * 2 ** 52) + 1;
          for (const r of cut) {
            const ts = r.ts_ms as number;
            if (ts < minTs) minTs = ts;
            if (ts > maxTs) maxTs = ts;
            r.insert_id = insertId;
          }
          const batch: Batch = { rows: cut, insertId, minTs, maxTs, attempts: 0 };
          b.inflight = batch;
          try {
            if (redelivery?.checking(table)) batch.rows = await uncheckedRowsOf(table, batch);
            if (batch.rows.length > 0) await insertBatch(table, batch);
          } catch {
            return; // abandoned at close: the in-flight rows are counted as dropped there
          }
          b.inflight = null;
          const rows = batch.rows;
          if (rows.length > 0) {
            inserted += rows.length;
            batches++;
            rowsInserted.inc({ table }, rows.length);
            batchesTotal.inc({ table });
          }
          buffer.inserted(cut.length);
          done[table] += cut.length;
          settle();
          progress = true;
        }
      }
    } finally {
      running = false;
    }
  }

  function settle(): void {
    if (waiters.length === 0) return;
    waiters = waiters.filter((w) => {
      if (SINK_TABLES.every((t) => done[t] >= w.targets[t])) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  function kick(): void {
    if (!running) void drain().then(() => {
      if (!abandon && SINK_TABLES.some((t) => buffers[t].queued > 0)) kick();
    });
  }

  const timer = setInterval(kick, flushMs);
  timer.unref();

  let checkpointRunning = false;
  let lastCommitError: string | null = null;

  async function commitMark(mark: DeliveryMark): Promise<boolean> {
    try {
      await bus.commit!(mark);
      commits++;
      commitsTotal.inc();
      if (lastCommitError) log.info('bus commits recovered');
      lastCommitError = null;
      return true;
    } catch (err) {
      commitFailuresTotal.inc();
      const msg = (err as Error).message;
      if (lastCommitError !== msg) log.warn({ err: msg }, 'bus commit failed; retrying at the next cycle (a crash before then replays rows already inserted)');
      lastCommitError = msg;
      return false;
    }
  }

  /** Mark, insert every row buffered before the mark, commit the mark. One cycle at a time. */
  async function checkpoint(): Promise<void> {
    if (checkpointRunning || !accepting) return;
    checkpointRunning = true;
    try {
      const mark = bus.deliveryMark!(group);
      await flush();
      await commitMark(mark);
    } catch {
      // flush() rejects only when the sink is closing with rows abandoned: nothing to commit
    } finally {
      checkpointRunning = false;
    }
  }
  const commitTimer = checkpoints ? setInterval(() => void checkpoint(), flushMs) : null;
  commitTimer?.unref();

  function flush(): Promise<void> {
    const targets = { ...accepted };
    if (SINK_TABLES.every((t) => done[t] >= targets[t])) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      waiters.push({ resolve, reject, targets });
      kick();
    });
  }

  log.info({ url: opts.url, batchRows, flushMs, maxBufferedRows: maxBuffered }, 'ClickHouse sink started');

  return {
    name: 'clickhouse-sink',
    stats,
    flush,
    health(): StageHealth {
      const details: Record<string, string> = { buffered: String(stats.buffered) };
      if (lastError) details.clickhouse = `inserts failing: ${lastError}`;
      if (lastCommitError) details.bus = `offset commits failing: ${lastCommitError}`;
      if (buffer.backpressure) details.buffer = 'full: Kafka consumption paused until inserts drain it';
      else if (buffer.full) details.buffer = 'full: dropping rows';
      return { alive: !closed, ready: !closed && lastError === null, details };
    },
    async close(timeoutMs: number = 10_000): Promise<void> {
      if (closed) return;
      if (commitTimer) clearInterval(commitTimer);
      let finalMark: DeliveryMark | null = null;
      if (checkpoints) {
        // The final mark is taken while this member still owns its partitions; rows delivered after
        // it are ignored here and, not being committed, go to the next instance.
        accepting = false;
        finalMark = bus.deliveryMark!(group);
      }
      const ok = await Promise.race([flush().then(() => true), sleep(timeoutMs).then(() => false)]);
      if (ok && finalMark) await Promise.race([commitMark(finalMark), sleep(timeoutMs)]);
      await Promise.allSettled(unsubs.map((u) => u()));
      closed = true;
      clearInterval(timer);
      if (!ok) {
        abandon = true;
        const lost = buffer.abandon();
        log.error({ rows: lost, lastError }, 'sink closed before ClickHouse accepted every buffered row: rows dropped');
        for (const w of waiters) w.reject(new Error(`ClickHouse sink closed with ${lost} rows not inserted`));
        waiters = [];
      }
      await client.close().catch(() => {});
    },
  } as ClickHouseSink & { close(timeoutMs?: number): Promise<void> };
}
