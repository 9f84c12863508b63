import { describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { validateEvent, type FeedStatus } from '@depthwatch/schemas';
import { ConnectionStatus } from './connection-status.ts';

async function setup(routes: string[]) {
  const bus = new MemoryBus();
  const got: FeedStatus[] = [];
  await bus.subscribe('md.status', (e) => got.push(e));
  let now = 1_000;
  const totals = { resyncs: 0, gaps: 0, checksumFailures: 0 };
  const s = new ConnectionStatus({ venue: 'binance-futures', bus, routes, now: () => now, totals: () => totals, lagMs: () => 12 });
  const flush = async () => {
    await bus.flush();
    const out = got.splice(0);
    return out;
  };
  return { s, flush, setNow: (t: number) => (now = t), totals };
}

describe('ConnectionStatus (md.status symbol "*")', () => {
  it('walks connecting → syncing → synced → resyncing (naming the route down) → down → synced, counting reconnects', async () => {
    const { s, flush, setNow, totals } = await setup(['/public/stream', '/market/stream']);
    s.start();
    s.opened(0, false);
    s.opened(1, false);
    setNow(2_000);
    s.down(1, 'closed 1006');
    totals.resyncs = 3;
    totals.gaps = 1;
    s.down(0, 'silent');
    s.down(0, 'silent'); // a failed reconnect attempt with the same reason: no news
    setNow(3_000);
    s.opened(0, true);
    s.opened(1, true);
    const ev = await flush();
    expect(ev.map((e) => [e.state, e.reason])).toEqual([
      ['connecting', 'opening 2 connections'],
      ['syncing', '1/2 up'],
      ['synced', '2/2 up'],
      ['resyncing', '1/2 up; down: /market/stream#1: closed 1006'],
      ['down', 'all 2 connections down; /public/stream#0: silent; /market/stream#1: closed 1006'],
      ['resyncing', '1/2 up; down: /market/stream#1: closed 1006'],
      ['synced', '2/2 up'],
    ]);
    // One stream, seq +1 per event, symbol '*', times from the clock, venue-wide counters.
    expect(ev.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(ev.every((e) => e.symbol === '*' && e.venue === 'binance-futures' && e.lagMs === 12)).toBe(true);
    expect(ev.map((e) => e.ts)).toEqual([1000, 1000, 1000, 2000, 2000, 3000, 3000]);
    expect(ev.map((e) => e.reconnects)).toEqual([0, 0, 0, 0, 0, 1, 2]);
    expect(ev.at(-1)).toMatchObject({ resyncs: 3, gaps: 1, checksumFailures: 0, recvTs: 3000 });
    // Valid against the event schema the bus and the gateway validate with.
    for (const e of ev) expect(validateEvent(e, ['status'])).toEqual(e);
  });

  it('a single-socket venue: a failed first handshake is down; a connection that never opened keeps it connecting', async () => {
    const { s, flush } = await setup(['/ws']);
    s.start();
    s.down(0, 'closed 1006');
    s.opened(0, true);
    expect((await flush()).map((e) => e.state)).toEqual(['connecting', 'down', 'synced']);

    const two = await setup(['/a', '/b']);
    two.s.start();
    two.s.down(0, 'ECONNREFUSED');
    expect((await two.flush()).map((e) => [e.state, e.reason])).toEqual([
      ['connecting', 'opening 2 connections'],
      ['connecting', '0/2 up; down: /a#0: ECONNREFUSED'],
    ]);
  });
});
