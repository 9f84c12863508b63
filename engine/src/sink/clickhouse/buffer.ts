import { counter, gauge, type Logger } from '@depthwatch/ops';
import { SINK_TABLES, type Row, type SinkTable } from './rows.ts';

const droppedRows = counter<'table'>({ name: 'depthwatch_sink_dropped_rows_total', help: 'Rows dropped because the buffer was full (in-memory bus only) or the sink closed before ClickHouse came back', labelNames: ['table'] });
const bufferedRows = gauge({ name: 'depthwatch_sink_buffered_rows', help: 'Rows buffered in the sink, waiting for an insert' });
const backpressureGauge = gauge({ name: 'depthwatch_sink_backpressure', help: '1 while a sink holds its Kafka consumer group paused because its buffer reached maxBufferedRows' });
const backpressurePauses = counter({ name: 'depthwatch_sink_backpressure_pauses_total', help: 'Times a sink paused its Kafka consumer group because its buffer reached maxBufferedRows' });

/** Rows cut for one insert, kept until ClickHouse acknowledges them. */
export interface Batch {
  rows: Row[];
  insertId: number;
  minTs: number;
  maxTs: number;
  attempts: number;
}

export class TableBuffer {
  rows: Row[] = [];
  head = 0;
  inflight: Batch | null = null;
  get size(): number {
    return this.rows.length - this.head + (this.inflight ? this.inflight.rows.length : 0);
  }
  get queued(): number {
    return this.rows.length - this.head;
  }
  cut(max: number): Row[] {
    const end = Math.min(this.rows.length, this.head + max);
    const out = this.rows.slice(this.head, end);
    this.head = end;
    if (this.head > 65_536 && this.head * 2 > this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
    return out;
  }
}

/**
 * What a full buffer does:
 * - `drop` (in-memory bus: publish is synchronous and nothing upstream keeps the records) keeps the
 *   oldest rows and drops new ones, counted in depthwatch_sink_dropped_rows_total{table};
 * - `backpressure` (Kafka: offsets are committed only after insert, so the log still holds every
 *   row not inserted) calls `pause()` at the cap — the bus then stops delivering — and `resume()`
 *   once inserts have drained the buffer to `resumeRows`. Nothing is dropped.
 */
export type OverflowPolicy = { kind: 'drop' } | { kind: 'backpressure'; pause: () => void; resume: () => void };

export interface SinkBufferOptions {
  maxRows: number;
  /** Back-pressure ends when the buffer has drained to this many rows (default maxRows / 2: hysteresis, no flapping). */
  resumeRows?: number;
  policy: OverflowPolicy;
  log: Logger;
}

/** The sink's per-table row buffers, bounded at `maxRows` across tables. */
export class SinkBuffer {
  readonly tables = Object.fromEntries(SINK_TABLES.map((t) => [t, new TableBuffer()])) as Record<SinkTable, TableBuffer>;
  /** Rows held (queued + in flight) across tables. */
  buffered = 0;
  dropped = 0;
  /** Back-pressure episodes so far. */
  pauses = 0;
  private pausedNow = false;
  private lastDropLog = 0;
  private suppressedDrops = 0;
  readonly maxRows: number;
  private readonly resumeRows: number;

  constructor(private readonly opts: SinkBufferOptions) {
    if (!(opts.maxRows >= 1)) throw new Error(`SinkBuffer: maxRows must be ≥ 1, got ${opts.maxRows}`);
    this.maxRows = opts.maxRows;
    this.resumeRows = Math.min(opts.resumeRows ?? Math.floor(opts.maxRows / 2), opts.maxRows - 1);
  }

  get full(): boolean {
    return this.buffered >= this.maxRows;
  }

  /** True while the sink holds its bus group paused. */
  get backpressure(): boolean {
    return this.pausedNow;
  }

  /** Adds a row; false when it was dropped (drop policy, buffer full). */
  push(table: SinkTable, row: Row): boolean {
    const policy = this.opts.policy;
    if (this.full && policy.kind === 'drop') {
      this.countDropped(table, 1, 'sink buffer full: dropping new rows (oldest are kept)');
      return false;
    }
    // Back-pressure never drops: a row past the cap (delivered before the pause took effect) is kept,
    // because its offset may be committed with the next mark.
    this.tables[table].rows.push(row);
    this.buffered++;
    bufferedRows.inc();
    if (policy.kind === 'backpressure' && !this.pausedNow && this.full) {
      this.pausedNow = true;
      this.pauses++;
      backpressurePauses.inc();
      backpressureGauge.inc();
      this.opts.log.warn({ maxBufferedRows: this.maxRows, resumeAtRows: this.resumeRows }, 'sink buffer full: pausing Kafka consumption until inserts drain it (nothing dropped)');
      policy.pause();
    }
    return true;
  }

  /** `n` rows of `table` are in ClickHouse: they leave the buffer. */
  inserted(n: number): void {
    this.buffered -= n;
    bufferedRows.dec(n);
    this.maybeResume();
  }

  /** Counts rows as dropped (the sink closes with them not inserted) and empties the buffer. */
  abandon(): number {
    const lost = this.buffered;
    for (const t of SINK_TABLES) if (this.tables[t].size > 0) this.countDropped(t, this.tables[t].size, null);
    bufferedRows.dec(lost);
    this.buffered = 0;
    this.release();
    return lost;
  }

  /** Ends back-pressure whatever the fill (the sink is closing: its consumer is going away). */
  release(): void {
    if (!this.pausedNow) return;
    this.pausedNow = false;
    backpressureGauge.dec();
    if (this.opts.policy.kind === 'backpressure') this.opts.policy.resume();
  }

  private maybeResume(): void {
    if (!this.pausedNow || this.buffered > this.resumeRows) return;
    this.opts.log.info({ buffered: this.buffered }, 'sink buffer drained: resuming Kafka consumption');
    this.release();
  }

  /** Counts rows lost (logged at most once per 10 s when `message` is given). */
  countDropped(table: SinkTable, n: number, message: string | null): void {
    this.dropped += n;
    droppedRows.inc({ table }, n);
    if (message === null) return;
    const now = Date.now();
    if (now - this.lastDropLog > 10_000) {
      this.opts.log.error({ table, maxBufferedRows: this.maxRows, suppressedSinceLast: this.suppressedDrops }, message);
      this.lastDropLog = now;
      this.suppressedDrops = 0;
    } else this.suppressedDrops++;
  }
}
