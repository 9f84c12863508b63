import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DepthMetrics, Level } from '@depthwatch/schemas';
import { loadConfig } from './config.ts';
import { ROLES_BY_COMMAND, startPipeline, type Pipeline } from './pipeline.ts';
import { connectStream } from '../test/ws-client.ts';

/**
 * The spine end to end in one process: simulated Binance USD-M venue over real sockets →
 * collector → memory bus → engine → gateway → a WebSocket client. The client's 2 % bands must
 * equal bands computed here, independently, from the simulated venue's exact book.
 */

const VENUE = 'binance-futures';
const SYMBOL = 'BTC/USDT:USDT';

let pipeline: Pipeline;

beforeAll(async () => {
  const config = loadConfig(['start', '--port', '0', '--venues', VENUE, '--symbols', SYMBOL, '--scenario', 'calm', '--log-level', 'silent'], {});
  pipeline = await startPipeline(config, ROLES_BY_COMMAND.start);
});

afterAll(async () => {
  await pipeline?.close();
});

function streamUrl(): string {
  return `${pipeline.gatewayUrl!.replace(/^http/, 'ws')}/v1/stream`;
}

/** Independent of the engine: sum every level inside the band, as the definition says. */
function band(bids: Level[], asks: Level[], pct: number): { bidBase: number; askBase: number; bidQuote: number; askQuote: number } {
  const bestBid = Math.max(...bids.map((l) => l[0]));
  const bestAsk = Math.min(...asks.map((l) => l[0]));
  const mid = (bestBid + bestAsk) / 2;
  const lo = mid * (1 - pct / 100);
  const hi = mid * (1 + pct / 100);
  const inBid = bids.filter(([p]) => p >= lo);
  const inAsk = asks.filter(([p]) => p <= hi);
  return {
    bidBase: inBid.reduce((s, [, q]) => s + q, 0),
    askBase: inAsk.reduce((s, [, q]) => s + q, 0),
    bidQuote: inBid.reduce((s, [p, q]) => s + p * q, 0),
    askQuote: inAsk.reduce((s, [p, q]) => s + p * q, 0),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('one-process pipeline', () => {
  it('serves /healthz and /metrics on the gateway port', async () => {
    const health = await fetch(`${pipeline.gatewayUrl}/healthz`);
    expect(health.status).toBe(200);
    const metrics = await (await fetch(`${pipeline.gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(/depthwatch_ingest_messages_total/);
  });

  it('streams depth whose 2 % bands equal the simulated venue book', async () => {
    const client = await connectStream(streamUrl());
    client.send({ op: 'subscribe', channels: ['depth'], venues: ['*'], symbols: [SYMBOL] });
    await client.next((m) => m.type === 'subscribed');
    await client.next((m) => m.type === 'depth' && m.symbol === SYMBOL, 20_000);

    // Freeze the market, let the wire and the engine's trailing flush settle, then compare.
    pipeline.sim!.market.pause();
    await sleep(1500);
    const truth = pipeline.sim!.market.book(VENUE, SYMBOL);
    const before = client.messages.length;
    // A fresh subscription gets the current depth as its snapshot-on-subscribe.
    client.send({ op: 'subscribe', channels: ['depth'], venues: [VENUE], symbols: [SYMBOL] });
    const depth = (await client.next((m) => m.type === 'depth' && client.messages.indexOf(m) >= before)) as unknown as DepthMetrics;
    pipeline.sim!.market.resume();

    const bestBid = Math.max(...truth.bids.map((l) => l[0]));
    const bestAsk = Math.min(...truth.asks.map((l) => l[0]));
    expect(depth.bestBid).toBe(bestBid);
    expect(depth.bestAsk).toBe(bestAsk);
    expect(depth.mid).toBeCloseTo((bestBid + bestAsk) / 2, 9);
    const expected = band(truth.bids, truth.asks, 2);
    const got = depth.bands.find((b) => b.pct === 2)!;
    expect(got).toBeDefined();
    for (const k of ['bidBase', 'askBase', 'bidQuote', 'askQuote'] as const) {
      expect(Math.abs(got[k] - expected[k]) / expected[k]).toBeLessThan(1e-9);
    }
    client.ws.close();
  });

  it('answers a bad client message with an error and keeps serving', async () => {
    const client = await connectStream(streamUrl());
    client.ws.send('{"op":"subscribe",');
    const err = await client.next((m) => m.type === 'error');
    expect(String(err.message)).toMatch(/JSON/i);
    client.send({ op: 'subscribe', channels: ['nonsense'], venues: ['*'], symbols: ['*'] });
    const err2 = await client.next((m) => m.type === 'error' && m !== err);
    expect(String(err2.message)).toMatch(/nonsense/);
    client.send({ op: 'subscribe', channels: ['depth'], venues: ['*'], symbols: [SYMBOL] });
    await client.next((m) => m.type === 'depth');
    client.ws.close();
  });

  it('keeps serving after malformed exchange messages and counts them', async () => {
    const faults = pipeline.sim!.faults(VENUE);
    const metricValue = async (name: string): Promise<number> => {
      const text = await (await fetch(`${pipeline.gatewayUrl}/metrics`)).text();
      return text
        .split('\n')
        .filter((l) => l.startsWith(name) && l.includes(`venue="${VENUE}"`))
        .reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    };
    const waitForErrors = async (target: number): Promise<number> => {
      const deadline = Date.now() + 10_000;
      let value = await metricValue('depthwatch_ingest_parse_errors_total');
      while (value < target && Date.now() < deadline) {
        await sleep(100);
        value = await metricValue('depthwatch_ingest_parse_errors_total');
      }
      return value;
    };
    const before = await metricValue('depthwatch_ingest_parse_errors_total');
    faults.malformedFrame('@depth');
    expect(await waitForErrors(before + 1)).toBe(before + 1);
    faults.truncatedFrame('@depth');
    expect(await waitForErrors(before + 2)).toBe(before + 2);
    const client = await connectStream(streamUrl());
    client.send({ op: 'subscribe', channels: ['depth'], venues: ['*'], symbols: [SYMBOL] });
    const first = await client.next((m) => m.type === 'depth');
    await client.next((m) => m.type === 'depth' && m !== first && (m.ts as number) > (first.ts as number), 20_000);
    client.ws.close();
  });
});
