import { describe, expect, it } from 'vitest';
import { IDENTITY, RedeliveryFilter } from './redelivery.ts';
import { MIGRATIONS } from './migrations.ts';
import { SINK_TABLES } from './rows.ts';
import { tradeRow, type Row } from './rows.ts';
import { trade } from './fixtures.ts';

/** A stand-in ClickHouse: answers the identity SELECT from a list of stored rows, and records the SQL. */
function store(stored: Row[]) {
  const queries: string[] = [];
  const select = async (sql: string) => {
    queries.push(sql);
    const m = /ts_ms >= (\d+) AND ts_ms <= (\d+)/.exec(sql)!;
    const [lo, hi] = [Number(m[1]), Number(m[2])];
    // ClickHouse answers UInt64 as strings in JSONEachRow.
    return stored.filter((r) => (r.ts_ms as number) >= lo && (r.ts_ms as number) <= hi).map((r) => ({ venue: r.venue, symbol: r.symbol, ts_ms: String(r.ts_ms), id: r.id }));
  };
  return { select, queries };
}

describe('RedeliveryFilter', () => {
  it('uses each table\'s ReplacingMergeTree key as its event identity (the two must not drift apart)', () => {
    const ddl = MIGRATIONS.flatMap((m) => m.statements('dw')).join('\n');
    for (const table of SINK_TABLES) {
      const create = ddl.split('CREATE ').find((st) => st.startsWith(`TABLE IF NOT EXISTS dw.${table} (`));
      expect(create, table).toBeDefined();
      expect(create, table).toContain(`ORDER BY (run_id, ${IDENTITY[table].join(', ')})`);
    }
  });

  it('drops marked rows already stored or repeated in the batch, keeps the rest, and stops marking after the window', async () => {
    let now = 1_000;
    const predecessorInserted = [1, 2, 3].map((i) => tradeRow(trade(i), ''));
    const db = store(predecessorInserted);
    const f = new RedeliveryFilter({ select: db.select, db: 'dw', runId: '', windowMs: 500, now: () => now });
    // Redelivered head (1..3, inserted by the predecessor), new rows 4..6, and 5 handed over twice.
    const batch = [1, 2, 3, 4, 5, 5, 6].map((i) => tradeRow(trade(i), ''));
    for (const r of batch) f.admit('trades', r);
    expect(f.checking('trades')).toBe(true);
    const fresh = await f.unseen('trades', batch);
    expect(fresh.map((r) => r.id)).toEqual(['t4', 't5', 't6']);
    expect(f.checking('trades')).toBe(false);
    expect(db.queries).toHaveLength(1);
    expect(db.queries[0]).toMatch(/^SELECT venue, symbol, ts_ms, id FROM dw\.trades WHERE run_id = '' AND ts_ms >= \d+ AND ts_ms <= \d+$/);

    // Past the window: rows are no longer marked, batches are not checked, nothing is queried.
    now += 600;
    const late = [7, 7].map((i) => tradeRow(trade(i), ''));
    for (const r of late) f.admit('trades', r);
    expect(f.checking('trades')).toBe(false);
    expect(await f.unseen('trades', late)).toHaveLength(2);
    expect(db.queries).toHaveLength(1);
  });

  it('checks only the marked rows of a batch and only their time range', async () => {
    let now = 0;
    const db = store([tradeRow(trade(50), '')]);
    const f = new RedeliveryFilter({ select: db.select, db: 'dw', runId: 'r1', windowMs: 100, now: () => now });
    const early = tradeRow(trade(10), '');
    f.admit('trades', early);
    now = 200;
    const later = [tradeRow(trade(50), ''), tradeRow(trade(60), '')];
    for (const r of later) f.admit('trades', r);
    const fresh = await f.unseen('trades', [early, ...later]);
    // The unmarked row 50 passes although a row with its identity is stored: it was delivered after the window.
    expect(fresh.map((r) => r.id)).toEqual(['t10', 't50', 't60']);
    expect(db.queries[0]).toContain(`ts_ms >= ${early.ts_ms} AND ts_ms <= ${early.ts_ms}`);
  });

  it('refuses a run id that could reach the SQL unvalidated', () => {
    const db = store([]);
    expect(() => new RedeliveryFilter({ select: db.select, db: 'dw', runId: "x' OR 1=1 --", windowMs: 1 })).toThrow(/invalid run id/);
  });
});
