import { describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { Alert, Topic, TopicEvents } from '@depthwatch/schemas';
import { startEngine } from './engine.ts';
import { StreamBuilder, T0, type TopicEvent } from './test-streams.ts';

/**
 * A restarted engine must not leave the previous instance's open alerts dangling: it reads them
 * back from out.alert, takes them over, and updates/resolves them under their own ids.
 */

async function engineOn(bus: MemoryBus) {
  const alerts: Alert[] = [];
  const engine = await startEngine({ bus, timers: false });
  await bus.subscribe('out.alert', (ev) => void alerts.push(ev));
  const feed = (events: TopicEvent[]) => {
    for (const { topic, event } of events) bus.publish(topic as Topic, `${event.venue}:${event.symbol}`, event as TopicEvents[Topic]);
  };
  return { engine, alerts, feed };
}

/** Alerts the previous instance published, arriving on the new instance's bus as a Kafka read-back would. */
function readBack(bus: MemoryBus, alerts: Alert[]): void {
  for (const a of alerts) bus.publish('out.alert', a.scope === 'asset' ? `*:${a.asset}` : `${a.venue}:${a.symbol}`, a);
}

describe('alert continuity across an engine restart', () => {
  it('takes over an open feed alert and resolves it under the same id, continuing its seq', async () => {
    const before = new StreamBuilder(1);
    before.status('kraken', '*', T0 + 1_000, 'stale', 'no message for 30 s');
    before.status('kraken', '*', T0 + 2_000, 'down', 'socket closed');
    const a = await engineOn(new MemoryBus());
    a.feed(before.events);
    expect(a.alerts.map((x) => x.state)).toEqual(['open', 'update']);
    await a.engine.close();

    const busB = new MemoryBus();
    const b = await engineOn(busB);
    readBack(busB, a.alerts);
    const after = new StreamBuilder(2);
    after.status('kraken', '*', T0 + 9_000, 'synced');
    b.feed(after.events);
    const mine = b.alerts.filter((x) => !a.alerts.includes(x));
    expect(mine.map((x) => [x.id, x.state, x.seq])).toEqual([[a.alerts[0].id, 'resolved', 3]]);
    expect(mine[0].startTs).toBe(T0 + 1_000);
    expect(mine[0].endTs).toBe(T0 + 9_000);
  });

  it('without the read-back the same restart leaves the alert open (the premise of the test above)', async () => {
    const b = await engineOn(new MemoryBus());
    const after = new StreamBuilder(2);
    after.status('kraken', '*', T0 + 9_000, 'synced');
    b.feed(after.events);
    expect(b.alerts).toEqual([]);
  });

  it('resolves an old alert as superseded when the new instance already opened its own for the scope', async () => {
    const busB = new MemoryBus();
    const b = await engineOn(busB);
    const s = new StreamBuilder(3);
    s.status('kraken', '*', T0 + 5_000, 'down', 'socket closed');
    b.feed(s.events);
    const own = b.alerts[0];
    const old: Alert = { ...own, id: `feed:kraken:*:${T0 + 1_000}`, startTs: T0 + 1_000, ts: T0 + 1_000, seq: 7, state: 'open', stage: 'stale', severity: 'warning' };
    readBack(busB, [old]);
    const closed = b.alerts.find((x) => x.id === old.id && x.state === 'resolved');
    expect(closed).toBeDefined();
    expect(closed!.stage).toBe('superseded');
    expect(closed!.explanation).toContain(own.id);
    expect(closed!.seq).toBe(8);
    // The new instance's own alert is untouched and still resolves normally.
    const t = new StreamBuilder(4);
    t.status('kraken', '*', T0 + 8_000, 'synced');
    b.feed(t.events);
    expect(b.alerts.at(-1)).toMatchObject({ id: own.id, state: 'resolved', seq: 9 });
  });

  it('takes over an open cascade alert and resolves it after clearAfterSec of calm, never earlier', async () => {
    const busB = new MemoryBus();
    const b = await engineOn(busB);
    const s = new StreamBuilder(5);
    const m = s.market('bybit', 'BTC/USDT:USDT', 100_000, 0.1, 200, 2);
    s.snapshot(m, T0);
    const start = T0 - 20_000;
    const open: Alert = {
      type: 'alert',
      id: `cascade:bybit:BTC/USDT:USDT:bid:${start}`,
      kind: 'cascade',
      scope: 'symbol',
      venue: 'bybit',
      symbol: 'BTC/USDT:USDT',
      asset: 'BTC',
      side: 'bid',
      stage: 'pressure+acceleration+depth_collapse',
      severity: 'critical',
      state: 'open',
      startTs: start,
      ts: start,
      endTs: null,
      seq: 4,
      evidence: {
        liquidationNotional: 5e6,
        liquidationRate: 8e4,
        liquidationBaselineRate: 1e3,
        depth2Pct: 1e6,
        depth2PctBaseline: 2e7,
        spreadBps: 4,
        spreadBaselineBps: 1,
        priceMovePct: 2,
        venues: ['bybit'],
        lowerBoundVenues: [],
        depthTruncated: false,
      },
      explanation: 'critical — long liquidations',
    };
    readBack(busB, [open]);
    for (let t = T0 + 1_000; t <= T0 + 60_000; t += 1_000) s.noise(m, t);
    b.feed(s.events);
    b.engine.flushDepth();
    const mine = b.alerts.filter((x) => x !== open && x.kind === 'cascade');
    expect(mine.length).toBeGreaterThan(0);
    expect(new Set(mine.map((x) => x.id))).toEqual(new Set([open.id]));
    const end = mine.at(-1)!;
    expect(end.state).toBe('resolved');
    expect(end.seq).toBe(4 + mine.length);
    // Calm from the first evaluated second on: resolution needs clearAfterSec consecutive calm seconds.
    expect(end.ts - T0).toBeGreaterThanOrEqual(b.engine.config.clearAfterSec * 1000);
    expect(end.endTs).toBe(end.ts);
  });
});
