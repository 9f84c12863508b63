import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Trade } from '@depthwatch/schemas';
import { metricValue } from '@depthwatch/ops';
import { ensureKafka } from '../../infra/local/ensure.ts';
import { KafkaBus } from './kafka-bus.ts';

/**
 * Broker restart drill: the only Kafka broker goes down for a few seconds while a producer keeps
 * publishing and a consumer group keeps reading. Afterwards every published record has arrived
 * (at least once) and nothing was dropped from the producer queue.
 * Then the producer queue cap: with the broker down and a small `maxPending`, exactly the records
 * beyond the cap are dropped and counted, and the ones queued before it are delivered once the
 * broker is back.
 */

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const run = `kr${Date.now().toString(36)}`;

function trade(i: number): Trade {
  return { type: 'trade', venue: 'bybit', symbol: i % 2 ? 'BTC/USDT:USDT' : 'ETH/USDT:USDT', ts: 1_767_225_600_000 + i, recvTs: 1_767_225_600_000 + i, seq: i, id: `r${i}`, price: 100, amount: 1, side: 'buy', liquidation: false };
}

const dropped = (): Promise<number> => metricValue('depthwatch_bus_dropped_total');

let bus: KafkaBus;
let brokers: string[];
let brokerStopped = false;

async function broker(cmd: 'stop' | 'start'): Promise<void> {
  await exec('bash', ['infra/local/kafka.sh', cmd], { timeout: cmd === 'stop' ? 60_000 : 120_000 });
  brokerStopped = cmd === 'stop';
}

beforeAll(async () => {
  brokers = (await ensureKafka()).split(',');
  bus = await KafkaBus.connect({ brokers, clientId: run, topicPrefix: `${run}.`, partitions: 2, lagPollMs: 0 });
});

afterAll(async () => {
  if (brokerStopped) await broker('start');
  await bus?.close();
});

describe('Kafka broker restart', () => {
  it('delivers every record published before, during and after the outage', async () => {
    const received = new Set<string>();
    let deliveries = 0;
    await bus.subscribe('md.trade', (e) => {
      deliveries++;
      received.add(e.id);
    }, { group: `${run}-g-${randomUUID()}` });
    const droppedBefore = await dropped();
    let published = 0;
    const publishSome = (n: number) => {
      for (let k = 0; k < n; k++) bus.publish('md.trade', trade(published).venue + ':' + trade(published).symbol, trade(published++));
    };
    const pump = setInterval(() => publishSome(20), 20);
    try {
      await sleep(1_500);
      await broker('stop');
      await sleep(3_000);
      await broker('start');
      await sleep(2_000);
    } finally {
      clearInterval(pump);
    }
    await bus.flush();
    const deadline = Date.now() + 90_000;
    while (received.size < published && Date.now() < deadline) await sleep(250);
    expect(published).toBeGreaterThan(1_000);
    expect(received.size).toBe(published);
    expect(deliveries).toBeGreaterThanOrEqual(published);
    expect((await dropped()) - droppedBefore).toBe(0);
  }, 240_000);

  it('bounds the producer queue at maxPending while the broker is down: drops and counts exactly the excess, delivers the rest after', async () => {
    const MAX = 500;
    const OVER = 321;
    const capped = await KafkaBus.connect({ brokers, clientId: `${run}-capped`, topicPrefix: `${run}.`, partitions: 2, lagPollMs: 0, maxPending: MAX });
    try {
      const received = new Set<string>();
      await bus.subscribe('md.trade', (e) => void received.add(e.id), { group: `${run}-cap-${randomUUID()}` });
      const droppedBefore = await dropped();
      await broker('stop');
      const t = (i: number) => ({ ...trade(i), id: `cap${i}` });
      for (let i = 0; i < MAX + OVER; i++) capped.publish('md.trade', `bybit:${t(i).symbol}`, t(i));
      // Nothing can be acknowledged with the broker down: the queue holds exactly the cap.
      expect(capped.pending).toBe(MAX);
      expect((await dropped()) - droppedBefore).toBe(OVER);
      await sleep(1_000);
      expect(capped.pending).toBe(MAX);
      await broker('start');
      await capped.flush();
      expect(capped.pending).toBe(0);
      const deadline = Date.now() + 90_000;
      while (received.size < MAX && Date.now() < deadline) await sleep(250);
      expect([...received].sort()).toEqual(Array.from({ length: MAX }, (_, i) => `cap${i}`).sort());
      expect((await dropped()) - droppedBefore).toBe(OVER);
    } finally {
      await capped.close();
    }
  }, 240_000);
});
