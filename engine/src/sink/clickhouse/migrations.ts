import type { ClickHouseClient } from '@clickhouse/client';
import { logger } from '@depthwatch/ops';
import { BAND_COLUMNS, CAPACITY_COLUMNS, FLOW_COLUMNS, SLIPPAGE_COLUMNS } from './columns.ts';

/**
 * Versioned ClickHouse schema. Every statement must run on ClickHouse 18.16 and on current
 * releases: no DateTime64, TTL, CODEC, LowCardinality, Map, `ADD COLUMN IF NOT EXISTS`, query
 * parameters. Times are integer milliseconds (`ts_ms`, `recv_ts_ms`) plus a derived
 * `ts DateTime('UTC')` (MATERIALIZED: not sent by the sink, not in `SELECT *`).
 *
 * Exactly-once: every raw table is a ReplacingMergeTree whose sorting key is the event's
 * deterministic identity (run_id, venue, symbol, ts_ms, id|seq). A batch inserted twice (a retry
 * after an ambiguous failure) collapses to one row per key at merge time; reads that must be exact
 * use `FINAL` (or GROUP BY the key). See docs/clickhouse.md.
 *
 * Rules for new steps: append, never edit an applied step; every statement idempotent
 * (IF NOT EXISTS) so a step interrupted half-way can simply run again.
 */
export interface Migration {
  version: number;
  name: string;
  statements: (db: string) => string[];
}

const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function assertDatabaseName(db: string): string {
  if (!DB_NAME.test(db)) throw new Error(`invalid ClickHouse database name ${JSON.stringify(db)} (letters, digits, _; not starting with a digit)`);
  return db;
}

const RUN_ID = "run_id String DEFAULT ''";
const INSERT_ID = 'insert_id UInt64 DEFAULT 0';
const TS = "ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(ts_ms, 1000))";
const RECV_TS = "recv_ts DateTime('UTC') MATERIALIZED toDateTime(intDiv(recv_ts_ms, 1000))";
const STREAM = ['venue String', 'symbol String', 'ts_ms UInt64', 'recv_ts_ms UInt64', 'seq UInt64'];

function table(db: string, name: string, columns: string[], engine: string): string {
  return `CREATE TABLE IF NOT EXISTS ${db}.${name} (\n  ${columns.join(',\n  ')}\n) ENGINE = ${engine}`;
}

const depthColumns = (): string[] => [
  RUN_ID,
  'venue String',
  'symbol String',
  'ts_ms UInt64',
  'seq UInt64',
  'best_bid Float64',
  'best_ask Float64',
  'mid Float64',
  'microprice Float64',
  'spread_bps Float64',
  'imbalance Float64',
  'bid_levels UInt32',
  'ask_levels UInt32',
  ...BAND_COLUMNS.flatMap((b) => [
    `${b.bidBase} Float64`,
    `${b.askBase} Float64`,
    `${b.bidQuote} Float64`,
    `${b.askQuote} Float64`,
    `${b.bidTruncated} UInt8`,
    `${b.askTruncated} UInt8`,
  ]),
  ...SLIPPAGE_COLUMNS.flatMap((s) => [`${s.buy} Nullable(Float64)`, `${s.sell} Nullable(Float64)`]),
  ...CAPACITY_COLUMNS.flatMap((c) => [`${c.buy} Float64`, `${c.sell} Float64`]),
  INSERT_ID,
  TS,
];

const assetDepthColumns = (): string[] => [
  RUN_ID,
  'asset String',
  'ts_ms UInt64',
  'seq UInt64',
  'venues Array(String)',
  'depth_2pct_bid_quote Float64',
  'depth_2pct_ask_quote Float64',
  'depth_2pct_bid_baseline Nullable(Float64)',
  'depth_2pct_ask_baseline Nullable(Float64)',
  'depth_truncated UInt8',
  ...FLOW_COLUMNS.flatMap((f) => [
    `${f.longNotional} Float64`,
    `${f.shortNotional} Float64`,
    `${f.longCount} UInt32`,
    `${f.shortCount} UInt32`,
    `${f.longLargest} Float64`,
    `${f.shortLargest} Float64`,
  ]),
  'lower_bound_venues Array(String)',
  ...CAPACITY_COLUMNS.flatMap((c) => [`${c.buy} Float64`, `${c.sell} Float64`]),
  INSERT_ID,
  TS,
];

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'raw event tables',
    statements: (db) => [
      table(
        db,
        'trades',
        [RUN_ID, ...STREAM, 'id String', 'price Float64', 'amount Float64', "side Enum8('buy' = 1, 'sell' = 2)", 'liquidation UInt8', INSERT_ID, TS, RECV_TS],
        'ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (run_id, venue, symbol, ts_ms, id)',
      ),
      table(
        db,
        'liquidations',
        [
          RUN_ID,
          ...STREAM,
          'id String',
          "liquidated_position Enum8('long' = 1, 'short' = 2)",
          'price Float64',
          'amount Float64',
          'notional Float64',
          "completeness Enum8('complete' = 1, 'lower_bound' = 2)",
          INSERT_ID,
          TS,
          RECV_TS,
        ],
        'ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (run_id, venue, symbol, ts_ms, id)',
      ),
      table(
        db,
        'tickers',
        [
          RUN_ID,
          ...STREAM,
          'mark_price Nullable(Float64)',
          'index_price Nullable(Float64)',
          'last_price Nullable(Float64)',
          'funding_rate Nullable(Float64)',
          'next_funding_time_ms Nullable(UInt64)',
          'open_interest Nullable(Float64)',
          INSERT_ID,
          TS,
          RECV_TS,
        ],
        'ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (run_id, venue, symbol, ts_ms, seq)',
      ),
      table(
        db,
        'feed_status',
        [
          RUN_ID,
          ...STREAM,
          "state Enum8('connecting' = 1, 'syncing' = 2, 'synced' = 3, 'resyncing' = 4, 'stale' = 5, 'down' = 6)",
          'reason String',
          'resyncs UInt32',
          'gaps UInt32',
          'checksum_failures UInt32',
          'reconnects UInt32',
          'lag_ms Nullable(Float64)',
          INSERT_ID,
          TS,
          RECV_TS,
        ],
        'ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (run_id, venue, symbol, ts_ms, seq)',
      ),
      table(db, 'depth', depthColumns(), 'ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (run_id, venue, symbol, ts_ms, seq)'),
      table(
        db,
        'alerts',
        [
          RUN_ID,
          'id String',
          "kind Enum8('cascade' = 1, 'feed' = 2)",
          "scope Enum8('symbol' = 1, 'asset' = 2, 'venue' = 3)",
          'venue String',
          'symbol String',
          'asset String',
          "side Enum8('bid' = 1, 'ask' = 2, 'none' = 3)",
          'stage String',
          "severity Enum8('watch' = 1, 'warning' = 2, 'critical' = 3)",
          "state Enum8('open' = 1, 'update' = 2, 'resolved' = 3)",
          'start_ts_ms UInt64',
          'ts_ms UInt64',
          'end_ts_ms Nullable(UInt64)',
          'seq UInt64',
          'liquidation_notional Float64',
          'liquidation_rate Float64',
          'liquidation_baseline_rate Float64',
          'depth_2pct Float64',
          'depth_2pct_baseline Float64',
          'spread_bps Float64',
          'spread_baseline_bps Float64',
          'price_move_pct Float64',
          'venues Array(String)',
          'lower_bound_venues Array(String)',
          'depth_truncated UInt8',
          'explanation String',
          INSERT_ID,
          TS,
        ],
        'ReplacingMergeTree PARTITION BY toYYYYMM(ts) ORDER BY (run_id, ts_ms, id, seq)',
      ),
      // Derived from depth by a view, so a duplicated depth batch also collapses here under FINAL.
      table(
        db,
        'top_of_book',
        // 18.16 cannot push a view into a table with a MATERIALIZED column ("Expected column ts"):
        // view targets carry ts as a plain column the view computes.
        [RUN_ID, 'venue String', 'symbol String', 'ts_ms UInt64', 'seq UInt64', 'best_bid Float64', 'best_ask Float64', 'mid Float64', 'spread_bps Float64', "ts DateTime('UTC')"],
        'ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (run_id, venue, symbol, ts_ms, seq)',
      ),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.top_of_book_mv TO ${db}.top_of_book AS
  SELECT run_id, venue, symbol, ts_ms, seq, best_bid, best_ask, mid, spread_bps, toDateTime(intDiv(ts_ms, 1000), 'UTC') AS ts FROM ${db}.depth`,
    ],
  },
  {
    version: 2,
    name: '1-minute rollups',
    statements: (db) => [
      table(
        db,
        'ohlcv_1m',
        [
          RUN_ID,
          'venue String',
          'symbol String',
          "minute DateTime('UTC')",
          'open AggregateFunction(argMin, Float64, UInt64)',
          'high AggregateFunction(max, Float64)',
          'low AggregateFunction(min, Float64)',
          'close AggregateFunction(argMax, Float64, UInt64)',
          'volume AggregateFunction(sum, Float64)',
          'buy_volume AggregateFunction(sum, Float64)',
          'quote_volume AggregateFunction(sum, Float64)',
          'trades AggregateFunction(count)',
        ],
        'AggregatingMergeTree PARTITION BY toYYYYMM(minute) ORDER BY (run_id, venue, symbol, minute)',
      ),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.ohlcv_1m_mv TO ${db}.ohlcv_1m AS
  SELECT run_id, venue, symbol, toStartOfMinute(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS minute,
    argMinState(price, ts_ms) AS open, maxState(price) AS high, minState(price) AS low, argMaxState(price, ts_ms) AS close,
    sumState(amount) AS volume, sumState(if(side = 'buy', amount, 0.)) AS buy_volume, sumState(price * amount) AS quote_volume,
    countState() AS trades
  FROM ${db}.trades GROUP BY run_id, venue, symbol, minute`,
      table(
        db,
        'liquidations_1m',
        [RUN_ID, 'venue String', 'symbol String', "liquidated_position Enum8('long' = 1, 'short' = 2)", "minute DateTime('UTC')", 'notional Float64', 'amount Float64', 'count UInt64', 'lower_bound UInt64'],
        'SummingMergeTree((notional, amount, count, lower_bound)) PARTITION BY toYYYYMM(minute) ORDER BY (run_id, venue, symbol, liquidated_position, minute)',
      ),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.liquidations_1m_mv TO ${db}.liquidations_1m AS
  SELECT run_id, venue, symbol, liquidated_position, toStartOfMinute(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS minute,
    sum(notional) AS notional, sum(amount) AS amount, toUInt64(count()) AS count, toUInt64(countIf(completeness = 'lower_bound')) AS lower_bound
  FROM ${db}.liquidations GROUP BY run_id, venue, symbol, liquidated_position, minute`,
      table(
        db,
        'depth_2pct_1m',
        [
          RUN_ID,
          'venue String',
          'symbol String',
          "minute DateTime('UTC')",
          'bid_quote_avg AggregateFunction(avg, Float64)',
          'bid_quote_min AggregateFunction(min, Float64)',
          'ask_quote_avg AggregateFunction(avg, Float64)',
          'ask_quote_min AggregateFunction(min, Float64)',
          'samples AggregateFunction(count)',
        ],
        'AggregatingMergeTree PARTITION BY toYYYYMM(minute) ORDER BY (run_id, venue, symbol, minute)',
      ),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.depth_2pct_1m_mv TO ${db}.depth_2pct_1m AS
  SELECT run_id, venue, symbol, toStartOfMinute(toDateTime(intDiv(ts_ms, 1000), 'UTC')) AS minute,
    avgState(bid_quote_2) AS bid_quote_avg, minState(bid_quote_2) AS bid_quote_min,
    avgState(ask_quote_2) AS ask_quote_avg, minState(ask_quote_2) AS ask_quote_min, countState() AS samples
  FROM ${db}.depth GROUP BY run_id, venue, symbol, minute`,
    ],
  },
  {
    version: 3,
    name: 'cross-venue asset depth',
    statements: (db) => [table(db, 'asset_depth', assetDepthColumns(), 'ReplacingMergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (run_id, asset, ts_ms, seq)')],
  },
];

export interface MigrateResult {
  applied: number[];
  current: number;
}

/**
 * Creates the database and applies every migration not yet recorded in `schema_migrations`.
 * Idempotent and safe to run concurrently (statements are IF NOT EXISTS; a version recorded twice
 * is read as one).
 */
export async function migrate(client: ClickHouseClient, database = 'depthwatch'): Promise<MigrateResult> {
  const db = assertDatabaseName(database);
  const log = logger('sink.clickhouse.migrate', { database: db });
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now()) ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const rs = await client.query({ query: `SELECT DISTINCT version FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
  const done = new Set((await rs.json<{ version: number | string }>()).map((r) => Number(r.version)));
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const statement of m.statements(db)) await client.command({ query: statement });
    await client.insert({ table: `${db}.schema_migrations`, values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    applied.push(m.version);
    log.info({ version: m.version, name: m.name }, 'applied migration');
  }
  return { applied, current: MIGRATIONS[MIGRATIONS.length - 1].version };
}
