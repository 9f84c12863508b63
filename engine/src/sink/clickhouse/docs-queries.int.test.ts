import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClickHouseClient } from '@clickhouse/client';
import { MemoryBus } from '@depthwatch/bus';
import { ensureClickHouse } from '../../../../infra/local/ensure.ts';
import { createSinkClient, startClickHouseSink } from './sink.ts';
import { alert, depth, liquidation, trade } from './fixtures.ts';

const DOC = fileURLToPath(new URL('../../../../docs/clickhouse.md', import.meta.url));
const DB = `dwtest_docs_${Date.now().toString(36)}`;
const queries = [...readFileSync(DOC, 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);

/** Every SQL block in docs/clickhouse.md runs on the real server, against data shaped like live rows. */
describe('docs/clickhouse.md queries (real server)', () => {
  let client: ClickHouseClient;

  beforeAll(async () => {
    const url = await ensureClickHouse();
    client = createSinkClient(url);
    const bus = new MemoryBus();
    const sink = await startClickHouseSink({ bus, url, database: DB, flushMs: 20 });
    const now = Date.now() - 30 * 60_000;
    for (let i = 0; i < 120; i++) {
      const ts = now + i * 10_000;
      bus.publish('md.trade', 'k', trade(i, { ts, id: `d${i}` }));
      bus.publish('out.depth', 'k', depth(i, { ts, q2: [1e6 - i * 1000, 9e5 + i] }));
      bus.publish('md.liquidation', 'k', liquidation(i, { ts, symbol: 'BTC/USDT:USDT', notional: i % 30 === 0 ? 5e6 : 1e4, id: `q${i}` }));
    }
    bus.publish('out.alert', 'k', { ...alert(1), startTs: now + 600_000, ts: now + 600_000 });
    await sink.flush();
    await sink.close();
  });

  afterAll(async () => {
    await client?.command({ query: `DROP DATABASE IF EXISTS ${DB}` }).catch(() => {});
    await client?.close();
  });

  it('has the five documented queries', () => {
    expect(queries.length).toBe(5);
  });

  it.each(queries.map((q, i) => [i + 1, q] as const))('query %i runs and returns rows', async (_i, sql) => {
    const rs = await client.query({ query: sql.replaceAll('depthwatch.', `${DB}.`), format: 'JSONEachRow' });
    const rows = await rs.json();
    expect(rows.length).toBeGreaterThan(0);
  });
});
