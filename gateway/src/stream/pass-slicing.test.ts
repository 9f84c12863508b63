import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { startGateway, type Gateway } from '../index.ts';
import { TestClient, tradeEvent } from '../testing.ts';

/**
 * A flush pass over many clients is cut into slices of `passSliceClients`, with the event loop free
 * in between (bus events, requests, new connections); every client's frames stay in order with
 * contiguous cseqs, and every client in a pass is visited.
 */

const BTC = 'BTC/USDT:USDT';
let gw: Gateway | null = null;
const clients: TestClient[] = [];

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await gw?.close();
  gw = null;
});

async function crowd(bus: MemoryBus, n: number): Promise<TestClient[]> {
  const out: TestClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await TestClient.connect(gw!.url);
    clients.push(c);
    out.push(c);
    c.send({ op: 'subscribe', channels: ['trades'], venues: ['bybit'], symbols: [BTC] });
    await c.waitFor((m) => m.type === 'subscribed');
  }
  return out;
}

/** Index of the frame that carried message `i` of a client. */
function frameOf(c: TestClient, i: number): number {
  let end = 0;
  for (let f = 0; f < c.frames.length; f++) {
    end += c.frames[f]!.n;
    if (i < end) return f;
  }
  return -1;
}

const tradeIds = (c: TestClient) => c.of('trade').map((m) => m.id);

describe('gateway flush pass slicing', () => {
  it('yields between slices: an event published between two slices reaches the clients not yet visited in the same frame', async () => {
    const bus = new MemoryBus();
    gw = await startGateway({ bus, port: 0, config: { tickMs: 1, passSliceClients: 2 } });
    const cs = await crowd(bus, 9);
    await new Promise((r) => setTimeout(r, 50));
    bus.publish('md.trade', `bybit:${BTC}`, tradeEvent('bybit', BTC, 1, 100, 'first'));
    // Queued after the pass's first slice in this turn: runs before the second slice.
    setImmediate(() => bus.publish('md.trade', `bybit:${BTC}`, tradeEvent('bybit', BTC, 2, 100, 'second')));
    for (const c of cs) await c.waitFor((m) => m.id === 'second');
    const together = cs.filter((c) => {
      const first = c.msgs.findIndex((m) => m.id === 'first');
      const second = c.msgs.findIndex((m) => m.id === 'second');
      return frameOf(c, first) === frameOf(c, second);
    }).length;
    // The first slice (2 clients) was written before the second trade existed; later slices after.
    expect(together).toBe(cs.length - 2);
    for (const c of cs) {
      expect(tradeIds(c)).toEqual(['first', 'second']);
      expect(c.seqErrors).toBe(0);
    }
  });

  it('under a steady stream every client gets every trade in order with contiguous cseqs (no client starved)', async () => {
    const bus = new MemoryBus();
    gw = await startGateway({ bus, port: 0, config: { tickMs: 1, passSliceClients: 3 } });
    const cs = await crowd(bus, 25);
    const N = 300;
    let i = 0;
    // One trade per event-loop turn, so publishing interleaves with the slices of every pass.
    await new Promise<void>((resolve) => {
      const step = () => {
        bus.publish('md.trade', `bybit:${BTC}`, tradeEvent('bybit', BTC, ++i, 100, `x${i}`));
        if (i < N) setImmediate(step);
        else resolve();
      };
      step();
    });
    const want = Array.from({ length: N }, (_, k) => `x${k + 1}`);
    for (const c of cs) {
      await c.waitFor((m) => m.id === `x${N}`, 10_000);
      expect(tradeIds(c)).toEqual(want);
      expect(c.seqErrors).toBe(0);
    }
    // Slicing did coalesce: far fewer frames than trades for most clients.
    const frames = cs.map((c) => c.frames.length);
    expect(Math.min(...frames)).toBeLessThan(N);
  });
});
