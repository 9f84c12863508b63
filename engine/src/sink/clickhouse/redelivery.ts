import { counter } from '@depthwatch/ops';
import type { Row, SinkTable } from './rows.ts';

/**
 * Each raw table's event identity: its ReplacingMergeTree sorting key without run_id (migrations.ts).
 * Two rows with the same identity are the same event.
 */
export const IDENTITY: Readonly<Record<SinkTable, readonly string[]>> = {
  trades: ['venue', 'symbol', 'ts_ms', 'id'],
  liquidations: ['venue', 'symbol', 'ts_ms', 'id'],
  tickers: ['venue', 'symbol', 'ts_ms', 'seq'],
  feed_status: ['venue', 'symbol', 'ts_ms', 'seq'],
  depth: ['venue', 'symbol', 'ts_ms', 'seq'],
  asset_depth: ['asset', 'ts_ms', 'seq'],
  alerts: ['ts_ms', 'id', 'seq'],
};

const skippedRows = counter<'table'>({
  name: 'depthwatch_sink_redelivered_rows_skipped_total',
  help: 'Rows redelivered after a sink restart that a previous instance had already inserted (found by event identity) and were not inserted again',
  labelNames: ['table'],
});

const RUN_ID = /^[A-Za-z0-9_.-]{0,64}$/;

function identityOf(row: Readonly<Record<string, unknown>>, cols: readonly string[]): string {
  let k = '';
  for (const c of cols) k += `${String(row[c])}\u0000`;
  return k;
}

export interface RedeliveryFilterOptions {
  /** Runs a SELECT and returns its rows (JSONEachRow). */
  select(sql: string): Promise<Record<string, unknown>[]>;
  db: string;
  runId: string;
  /** Rows delivered within this long (ms) of the first delivery are checked: redelivered rows are the head of every resumed partition. */
  windowMs: number;
  now?: () => number;
}

/**
 * Commit-after-insert means a restarted sink is handed again the rows its predecessor inserted
 * after its last commit. The raw tables collapse them under FINAL, but the rollup views would count
 * them twice. Those rows are the head of every partition the group resumes, so they arrive in the
 * first fetches: every row delivered within `windowMs` of the first delivery is marked, and before
 * a batch holding marked rows is inserted the sink asks ClickHouse which of them (by event identity,
 * within their time range) are already stored, and drops those — and any marked row seen twice in
 * the batch (a consumer restart while topics are added at start can hand a record over again).
 * After the window, once the marked rows are through, no batch is checked.
 * The identity values are compared in memory: nothing external reaches the SQL (the database name
 * is checked by the sink, the run id here, the time bounds are integers).
 */
export class RedeliveryFilter {
  private readonly marked = new WeakSet<Row>();
  private readonly pending: Record<string, number> = {};
  private windowEnd: number | null = null;
  private windowOver = false;
  private readonly now: () => number;

  constructor(private readonly o: RedeliveryFilterOptions) {
    if (!RUN_ID.test(o.runId)) throw new Error(`invalid run id ${JSON.stringify(o.runId)} (letters, digits, _ . -; at most 64)`);
    this.now = o.now ?? Date.now;
  }

  /** Called for every row the sink accepts, in delivery order. */
  admit(table: SinkTable, row: Row): void {
    if (this.windowOver) return;
    const t = this.now();
    if (this.windowEnd === null) this.windowEnd = t + this.o.windowMs;
    else if (t >= this.windowEnd) {
      this.windowOver = true;
      return;
    }
    this.marked.add(row);
    this.pending[table] = (this.pending[table] ?? 0) + 1;
  }

  /** Whether batches of `table` may hold marked rows. */
  checking(table: SinkTable): boolean {
    return (this.pending[table] ?? 0) > 0;
  }

  /** The rows of a batch to insert: unmarked rows, and marked rows not already stored nor repeated. */
  async unseen(table: SinkTable, rows: Row[]): Promise<Row[]> {
    let minTs = Number.MAX_SAFE_INTEGER;
    let maxTs = -1;
    let marked = 0;
    for (const r of rows) {
      if (!this.marked.has(r)) continue;
      marked++;
      const ts = r.ts_ms as number;
      if (ts < minTs) minTs = ts;
      if (ts > maxTs) maxTs = ts;
    }
    if (marked === 0) return rows;
    const cols = IDENTITY[table];
    const seen = new Set<string>();
    if (Number.isSafeInteger(minTs) && Number.isSafeInteger(maxTs)) {
      const stored = await this.o.select(
        `SELECT ${cols.join(', ')} FROM ${this.o.db}.${table} WHERE run_id = '${this.o.runId}' AND ts_ms >= ${minTs} AND ts_ms <= ${maxTs}`,
      );
      for (const r of stored) seen.add(identityOf(r, cols));
    }
    const fresh: Row[] = [];
    for (const r of rows) {
      if (!this.marked.has(r)) {
        fresh.push(r);
        continue;
      }
      this.marked.delete(r);
      const k = identityOf(r, cols);
      if (seen.has(k)) continue;
      seen.add(k);
      fresh.push(r);
    }
    this.pending[table] -= marked;
    if (fresh.length < rows.length) skippedRows.inc({ table }, rows.length - fresh.length);
    return fresh;
  }
}
