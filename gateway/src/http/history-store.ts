import type { Alert, Bus, DepthMetrics, Liquidation, Trade, VenueId } from '@depthwatch/schemas';

export const HISTORY_KINDS = ['depth', 'liquidations', 'trades', 'alerts'] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

export interface HistoryRows {
  depth: DepthMetrics;
  liquidations: Liquidation;
  trades: Trade;
  alerts: Alert;
}

/**
 * A validated history query (see parseHistoryQuery: nothing unvalidated reaches a store).
 * Semantics every store implements:
 * - `venue` / `symbol`: exact match on the row's field when not null.
 * - `from` inclusive, `to` exclusive, on the row's `ts` (exchange time, ms).
 * - Rows are returned sorted by `ts` ascending (ties: arrival order).
 * - When more than `limit` rows match: with `from` set, the OLDEST `limit` rows (page forward with
 *   from = last ts + 1); without `from`, the NEWEST `limit` rows (still ascending).
 */
export interface HistoryQuery {
  venue: VenueId | null;
  symbol: string | null;
  from: number | null;
  to: number | null;
  /** 1..historyMaxLimit (10 000 by default). */
  limit: number;
}

export interface HistoryStore {
  query<K extends HistoryKind>(kind: K, params: HistoryQuery): Promise<HistoryRows[K][]>;
  /** Optional readiness for /readyz (e.g. ClickHouse reachable). */
  health?(): { ready: boolean; detail: string };
  close?(): Promise<void>;
}

/** Fixed-capacity ring keeping the most recent rows in arrival order. */
class Ring<T> {
  private readonly buf: (T | undefined)[];
  private head = 0;
  size = 0;
  constructor(readonly capacity: number) {
    this.buf = new Array(capacity);
  }

  push(v: T): void {
    this.buf[(this.head + this.size) % this.capacity] = v;
    if (this.size < this.capacity) this.size++;
    else this.head = (this.head + 1) % this.capacity;
  }

  *values(): IterableIterator<T> {
    for (let i = 0; i < this.size; i++) yield this.buf[(this.head + i) % this.capacity]!;
  }
}

/**
 * Recent-window store used when ClickHouse is not configured: one bounded ring per kind, fed from
 * the bus (out.depth, md.liquidation, md.trade, out.alert). Queries scan the ring.
 */
export class MemoryHistoryStore implements HistoryStore {
  private readonly rings: { [K in HistoryKind]: Ring<HistoryRows[K]> };
  private unsubs: (() => Promise<void>)[] = [];

  constructor(readonly capacityPerKind = 20_000) {
    this.rings = {
      depth: new Ring(capacityPerKind),
      liquidations: new Ring(capacityPerKind),
      trades: new Ring(capacityPerKind),
      alerts: new Ring(capacityPerKind),
    };
  }

  record<K extends HistoryKind>(kind: K, row: HistoryRows[K]): void {
    (this.rings[kind] as Ring<HistoryRows[K]>).push(row);
  }

  /** Subscribes to the bus topics that feed the store. */
  async attach(bus: Bus): Promise<void> {
    const opts = { group: `depthwatch-gateway-history-${process.pid}` };
    this.unsubs.push(
      await bus.subscribe('out.depth', (e) => void (e.type === 'depth' && this.record('depth', e)), opts), // asset_depth is not kept in history
      await bus.subscribe('md.liquidation', (e) => this.record('liquidations', e), opts),
      await bus.subscribe('md.trade', (e) => this.record('trades', e), opts),
      await bus.subscribe('out.alert', (e) => this.record('alerts', e), opts),
    );
  }

  async query<K extends HistoryKind>(kind: K, q: HistoryQuery): Promise<HistoryRows[K][]> {
    const ring = this.rings[kind] as Ring<HistoryRows[K]>;
    const rows: HistoryRows[K][] = [];
    for (const r of ring.values()) {
      if (q.venue !== null && r.venue !== q.venue) continue;
      if (q.symbol !== null && r.symbol !== q.symbol) continue;
      if (q.from !== null && r.ts < q.from) continue;
      if (q.to !== null && r.ts >= q.to) continue;
      rows.push(r);
    }
    // Stable sort keeps arrival order among equal timestamps.
    rows.sort((a, b) => a.ts - b.ts);
    if (rows.length <= q.limit) return rows;
    return q.from !== null ? rows.slice(0, q.limit) : rows.slice(rows.length - q.limit);
  }

  health(): { ready: boolean; detail: string } {
    return { ready: true, detail: `memory window, ${this.capacityPerKind} rows per kind` };
  }

  async close(): Promise<void> {
    const u = this.unsubs;
    this.unsubs = [];
    await Promise.allSettled(u.map((f) => f()));
  }
}
