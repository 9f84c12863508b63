import { describe, expect, it } from 'vitest';
import type { Trade } from '@depthwatch/schemas';
import { registry } from '@depthwatch/ops';
import { MemoryBus } from './memory-bus.ts';

const trade: Trade = {
  type: 'trade', venue: 'binance', symbol: 'BTC/USDT', ts: 1, recvTs: 2, seq: 1, id: 't1', price: 100, amount: 1, side: 'buy', liquidation: false,
};

describe('MemoryBus', () => {
  it('delivers in publish order to every subscriber and stops after unsubscribe', async () => {
    const bus = new MemoryBus();
    const a: number[] = [];
    const b: number[] = [];
    const unsubA = await bus.subscribe('md.trade', (e) => a.push(e.seq));
    await bus.subscribe('md.trade', (e) => b.push(e.seq));
    bus.publish('md.trade', 'binance:BTC/USDT', trade);
    bus.publish('md.trade', 'binance:BTC/USDT', { ...trade, seq: 2 });
    await unsubA();
    bus.publish('md.trade', 'binance:BTC/USDT', { ...trade, seq: 3 });
    expect(a).toEqual([1, 2]);
    expect(b).toEqual([1, 2, 3]);
  });

  it('isolates a throwing handler and counts it', async () => {
    const bus = new MemoryBus();
    bus.onHandlerError = () => {};
    const got: number[] = [];
    await bus.subscribe('md.trade', () => {
      throw new Error('boom');
    });
    await bus.subscribe('md.trade', (e) => got.push(e.seq));
    const before = (await registry.getSingleMetric('depthwatch_bus_handler_errors_total')!.get()).values.find((v) => v.labels.topic === 'md.trade')?.value ?? 0;
    bus.publish('md.trade', 'k', trade);
    const after = (await registry.getSingleMetric('depthwatch_bus_handler_errors_total')!.get()).values.find((v) => v.labels.topic === 'md.trade')?.value ?? 0;
    expect(got).toEqual([1]);
    expect(bus.handlerErrors).toBe(1);
    expect(after - before).toBe(1);
  });
});
