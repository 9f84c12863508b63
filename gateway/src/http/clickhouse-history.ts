import type { ClickHouseClient } from '@clickhouse/client';
import { isUnifiedSymbol, isVenueId } from '@depthwatch/schemas';
import { assertDatabaseName } from '@depthwatch/engine/sink/clickhouse/migrations';
import { alertFromRow, depthFromRow, liquidationFromRow, tradeFromRow } from '@depthwatch/engine/sink/clickhouse/rows';
import { createSinkClient } from '@depthwatch/engine/sink/clickhouse/sink';
import { HISTORY_KINDS, type HistoryKind, type HistoryQuery, type HistoryRows, type HistoryStore } from './history-store.ts';

export interface ClickHouseHistoryOptions {
  url: string;
  database?: string;
  /** Rows of this run id only ('' = live data). */
  runId?: string;
  /** Hard cap on `limit`, whatever the caller asks (default 10 000). */
  maxLimit?: number;
  username?: string;
  password?: string;
}

const TABLE: Record<HistoryKind, string> = { depth: 'depth', liquidations: 'liquidations', trades: 'trades', alerts: 'alerts' };
/** Deterministic tie-break after ts_ms: the dedup key's last column. */
const TIE: Record<HistoryKind, string> = { depth: 'seq', liquidations: 'seq, id', trades: 'seq, id', alerts: 'seq, id' };
const FROM_ROW: { [K in HistoryKind]: (r: Record<string, unknown>) => HistoryRows[K] } = {
  depth: depthFromRow,
  liquidations: liquidationFromRow,
  trades: tradeFromRow,
  alerts: alertFromRow,
};
const RUN_ID = /^[A-Za-z0-9_.:-]{0,64}$/;
const MAX_MS = 253_402_300_799_999; // 9999-12-31

/** A ClickHouse string literal; only ever used on values that already passed a whitelist check. */
export function quoteString(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function msLiteral(name: string, v: number): string {
  if (!Number.isSafeInteger(v) || v < 0 || v > MAX_MS) throw new RangeError(`history ${name} must be an integer ms timestamp, got ${v}`);
  return String(v);
}

/**
 * History from the sink's ClickHouse tables (FINAL, so rows written twice by a retried insert
 * appear once). The gateway validates the query before it gets here; this store validates again
 * (venue enum, unified-symbol regex, integer ms, bounded limit) and builds SQL only from those
 * checked values, so no caller-supplied string is ever pasted into SQL unvalidated. No query
 * parameters: ClickHouse 18.16 has none.
 */
export class ClickHouseHistoryStore implements HistoryStore {
  readonly client: ClickHouseClient;
  private readonly db: string;
  private readonly runId: string;
  private readonly maxLimit: number;
  private lastError: string | null = null;

  constructor(opts: ClickHouseHistoryOptions) {
    this.db = assertDatabaseName(opts.database ?? 'depthwatch');
    this.runId = opts.runId ?? '';
    if (!RUN_ID.test(this.runId)) throw new Error(`invalid run id ${JSON.stringify(this.runId)}`);
    this.maxLimit = opts.maxLimit ?? 10_000;
    this.client = createSinkClient(opts.url, opts.username, opts.password);
  }

  /** The SQL for a query (exported for tests and EXPLAIN); throws on anything invalid. */
  buildSql(kind: HistoryKind, q: HistoryQuery): string {
    if (!(HISTORY_KINDS as readonly string[]).includes(kind)) throw new RangeError(`unknown history kind ${JSON.stringify(kind)}`);
    const where = [`run_id = ${quoteString(this.runId)}`];
    if (q.venue !== null) {
      if (!isVenueId(q.venue)) throw new RangeError(`invalid venue ${JSON.stringify(q.venue)}`);
      where.push(`venue = ${quoteString(q.venue)}`);
    }
    if (q.symbol !== null) {
      if (!isUnifiedSymbol(q.symbol)) throw new RangeError(`invalid symbol ${JSON.stringify(q.symbol)}`);
      where.push(`symbol = ${quoteString(q.symbol)}`);
    }
    if (q.from !== null) where.push(`ts_ms >= ${msLiteral('from', q.from)}`);
    if (q.to !== null) where.push(`ts_ms < ${msLiteral('to', q.to)}`);
    if (!Number.isSafeInteger(q.limit) || q.limit < 1 || q.limit > this.maxLimit) throw new RangeError(`limit must be an integer in 1..${this.maxLimit}, got ${q.limit}`);
    const table = `${this.db}.${TABLE[kind]}`;
    const tie = TIE[kind];
    // With `from`: the oldest `limit` rows. Without: the newest `limit` rows, returned ascending.
    if (q.from !== null) {
      return `SELECT * FROM ${table} FINAL WHERE ${where.join(' AND ')} ORDER BY ts_ms ASC, ${tie} LIMIT ${q.limit}`;
    }
    const desc = tie.split(', ').map((c) => `${c} DESC`).join(', ');
    return `SELECT * FROM (SELECT * FROM ${table} FINAL WHERE ${where.join(' AND ')} ORDER BY ts_ms DESC, ${desc} LIMIT ${q.limit}) ORDER BY ts_ms ASC, ${tie}`;
  }

  async query<K extends HistoryKind>(kind: K, q: HistoryQuery): Promise<HistoryRows[K][]> {
    const sql = this.buildSql(kind, q);
    try {
      const rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
      const rows = await rs.json<Record<string, unknown>>();
      this.lastError = null;
      const map = FROM_ROW[kind] as (r: Record<string, unknown>) => HistoryRows[K];
      return rows.map(map);
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  health(): { ready: boolean; detail: string } {
    return this.lastError ? { ready: false, detail: `ClickHouse query failed: ${this.lastError}` } : { ready: true, detail: `ClickHouse ${this.db}` };
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
