import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync } from 'node:fs';
import fc from 'fast-check';
import { MemoryBus } from '@depthwatch/bus';
import { registry } from '@depthwatch/ops';
import { startGateway, type Gateway } from './index.ts';
import { CHANNELS } from './stream/protocol.ts';
import { TestClient, sleep, tradeEvent, type Msg } from './testing.ts';

/**
 * Protocol fuzzing against a real in-process gateway: random JSON, mutated requests with hostile
 * fields, invalid filters, oversized frames, deep nesting, binary junk and request floods. Promises:
 * every request gets exactly one clear answer (an `error` with a documented code, or the normal
 * reply), every refusal is counted in depthwatch_gateway_refused_total{reason}, the fuzzing
 * connection stays up (except frames above the hard limit: close 1009), the server stays healthy,
 * and a well-behaved client keeps receiving every trade in order with no gap.
 * Case count: DEPTHWATCH_FUZZ_RUNS (default small).
 */

const RUNS = Math.max(1, Number(process.env.DEPTHWATCH_FUZZ_RUNS) || 120);
const ERROR_CODES = new Set(['bad_json', 'bad_request', 'unknown_op', 'unknown_channel', 'bad_filter', 'message_too_large', 'too_many_subscriptions', 'rate_limited', 'unknown_subscription']);
const REPLY_TYPES = new Set(['error', 'pong', 'subscribed', 'unsubscribed']);

function report(property: string, cases: number): void {
  const file = process.env.DEPTHWATCH_FUZZ_REPORT;
  if (file) appendFileSync(file, JSON.stringify({ suite: 'gateway-protocol', property, cases }) + '\n');
}

async function refused(): Promise<Map<string, number>> {
  const metric = await registry.getSingleMetric('depthwatch_gateway_refused_total')!.get();
  return new Map(metric.values.map((v) => [String(v.labels.reason), v.value]));
}

const hostileString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('*', '', 'binance', 'binance*', 'BTC/USDT:USDT', 'BTC/*', 'B*', 'BTC', '__proto__', 'constructor', 'x'.repeat(65), '\u0000', '\ud800', "'; DROP TABLE trades; --", '../../etc/passwd'),
);
const hostileValue = fc.oneof(hostileString, fc.integer(), fc.double(), fc.constantFrom(null, true, 1e308, -1, 0, 2 ** 53), fc.json({ maxDepth: 2 }).map((j) => JSON.parse(j) as unknown));
const requestLike = fc
  .record(
    {
      op: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping'), hostileValue),
      reqId: hostileValue,
      id: hostileValue,
      channels: fc.oneof(fc.subarray([...CHANNELS], { minLength: 1 }), fc.array(hostileString, { maxLength: 4 }), hostileValue),
      venues: fc.oneof(fc.array(hostileString, { maxLength: 300 }), hostileValue),
      symbols: fc.oneof(fc.array(hostileString, { maxLength: 5 }), hostileValue),
      assets: fc.oneof(fc.array(hostileString, { maxLength: 5 }), hostileValue),
      depth: hostileValue,
      extra: hostileValue,
    },
    { requiredKeys: ['op'] },
  )
  .map((r) => JSON.stringify(r));
const frameArb = fc.oneof(
  { weight: 6, arbitrary: requestLike },
  { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 64 }) },
  { weight: 1, arbitrary: requestLike.map((r) => r.slice(0, Math.floor(r.length / 2))) },
  { weight: 1, arbitrary: fc.constantFrom('['.repeat(5000) + ']'.repeat(5000), `{"op":"subscribe","channels":["trades"],"symbols":["${'A'.repeat(20_000)}"]}`, '{"op":"ping","__proto__":{"op":"subscribe"}}', 'null', '"op"', '{}') },
);

describe('gateway protocol fuzzing', () => {
  let gw: Gateway;
  let bus: MemoryBus;
  let watcher: TestClient;
  let published = 0;
  let timer: NodeJS.Timeout;

  beforeAll(async () => {
    bus = new MemoryBus();
    // High request limits here so every fuzz request is answered; floods are tested with the defaults below.
    gw = await startGateway({ bus, port: 0, config: { tickMs: 10, rateLimitPerSec: 1e6, rateLimitBurst: 1e6 } });
    watcher = await TestClient.connect(gw.url);
    await watcher.waitFor((m) => m.type === 'hello');
    await watcher.request({ op: 'subscribe', channels: ['trades'], venues: ['binance-futures'], symbols: ['BTC/USDT:USDT'] });
    timer = setInterval(() => bus.publish('md.trade', 'binance-futures:BTC/USDT:USDT', tradeEvent('binance-futures', 'BTC/USDT:USDT', ++published, 100 + published)), 3);
  });

  afterAll(async () => {
    clearInterval(timer);
    watcher?.close();
    await gw?.close();
  });

  it('random and hostile requests: one clear answer each, counted, connection and server stay up, others unaffected', async () => {
    const fuzzer = await TestClient.connect(gw.url);
    await fuzzer.waitFor((m) => m.type === 'hello');
    const before = await refused();
    let cases = 0;
    let errors = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(frameArb, { minLength: 1, maxLength: 10 }), async (frames) => {
          cases += frames.length;
          const from = fuzzer.msgs.length;
          for (const f of frames) fuzzer.send(f);
          const replies = () => fuzzer.msgs.slice(from).filter((m) => REPLY_TYPES.has(m.type));
          const deadline = Date.now() + 5000;
          while (replies().length < frames.length) {
            if (fuzzer.closeCode !== null) throw new Error(`fuzzing connection closed ${fuzzer.closeCode}`);
            if (Date.now() > deadline) throw new Error(`only ${replies().length} of ${frames.length} requests answered: ${frames.map((f) => f.slice(0, 80)).join(' | ')}`);
            await sleep(5);
          }
          const got = replies();
          expect(got).toHaveLength(frames.length);
          for (const r of got) {
            if (r.type !== 'error') continue;
            errors++;
            expect(ERROR_CODES.has(String(r.code)), `undocumented error code ${String(r.code)}`).toBe(true);
            expect(typeof r.message === 'string' && r.message.length > 0).toBe(true);
            expect(String(r.message).length).toBeLessThan(2000); // never echoes a huge input back
          }
          // Keep the subscription count from saturating: drop everything now and then.
          if (fuzzer.of('subscribed').length % 20 === 19) await fuzzer.request({ op: 'unsubscribe' });
        }),
        { numRuns: Math.min(3000, Math.max(3, Math.ceil(RUNS / 4))), endOnFailure: false },
      );
    } finally {
      report('requests', cases);
    }
    const after = await refused();
    let counted = 0;
    for (const [reason, v] of after) counted += v - (before.get(reason) ?? 0);
    expect(counted, 'every error answer is a refused_total increment').toBe(errors);
    expect(fuzzer.closeCode).toBeNull();
    expect(fuzzer.binaryFrames).toBe(0);
    fuzzer.close();
    await sleep(50);
    const wantTrades = published;
    await watcher.waitFor((m: Msg) => m.type === 'trade' && (m.seq as number) >= wantTrades, 5000);
    const trades = watcher.of('trade');
    expect(trades.map((t) => t.seq)).toEqual(Array.from({ length: trades.length }, (_, i) => i + 1));
    expect(watcher.seqErrors).toBe(0);
    expect(watcher.of('dropped')).toHaveLength(0);
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
  });

  it('frames over maxMessageBytes get message_too_large; over the hard limit the connection closes 1009 and the server carries on', async () => {
    const c = await TestClient.connect(gw.url);
    await c.waitFor((m) => m.type === 'hello');
    c.send('x'.repeat(gw.config.maxMessageBytes + 1));
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'message_too_large' });
    const r0 = await refused();
    c.send('{"op":"ping","pad":"' + 'x'.repeat(gw.config.hardMaxMessageBytes) + '"}');
    expect(await c.closed()).toBe(1009);
    await sleep(20);
    expect(((await refused()).get('frame_too_large') ?? 0) - (r0.get('frame_too_large') ?? 0)).toBe(1);
    const d = await TestClient.connect(gw.url);
    await d.waitFor((m) => m.type === 'hello');
    expect(await d.request({ op: 'ping' })).toMatchObject({ type: 'pong' });
    d.close();
    report('oversized', 2);
  });

  it('binary junk is answered like any malformed request', async () => {
    const c = await TestClient.connect(gw.url);
    await c.waitFor((m) => m.type === 'hello');
    const bytes = fc.sample(fc.uint8Array({ minLength: 1, maxLength: 512 }), { numRuns: 20, seed: 7 });
    for (const b of bytes) c.ws.send(Buffer.from(b), { binary: true });
    for (let i = 0; i < 500 && c.of('error').length < bytes.length; i++) await sleep(10);
    expect(c.of('error')).toHaveLength(bytes.length);
    expect(c.of('error').every((e) => e.code === 'bad_json' || e.code === 'bad_request' || e.code === 'unknown_op')).toBe(true);
    expect(c.closeCode).toBeNull();
    c.close();
    report('binary', bytes.length);
  });
});

describe('gateway request floods (default limits)', () => {
  it('a flooding client is throttled with at most one rate_limited error per second, every refused request counted; a neighbour is unaffected', async () => {
    const bus = new MemoryBus();
    const gw = await startGateway({ bus, port: 0, config: { tickMs: 10 } });
    try {
      const flooder = await TestClient.connect(gw.url);
      const good = await TestClient.connect(gw.url);
      await flooder.waitFor((m) => m.type === 'hello');
      await good.waitFor((m) => m.type === 'hello');
      await good.request({ op: 'subscribe', channels: ['trades'] });
      const before = (await refused()).get('rate_limited') ?? 0;
      const N = 5000;
      for (let i = 0; i < N; i++) flooder.send(i % 2 ? '{"op":"ping"}' : '{"op":"subscribe","channels":["trades"],"symbols":["BTC/*"]}');
      for (let i = 1; i <= 50; i++) bus.publish('md.trade', 'binance:BTC/USDT', tradeEvent('binance', 'BTC/USDT', i));
      await good.waitFor((m) => m.type === 'trade' && m.seq === 50, 5000);
      await flooder.waitFor((m) => m.type === 'error' && m.code === 'rate_limited', 5000);
      await sleep(100);
      const limited = flooder.of('error').filter((e) => e.code === 'rate_limited').length;
      expect(limited).toBeGreaterThanOrEqual(1);
      expect(limited).toBeLessThanOrEqual(3);
      const counted = ((await refused()).get('rate_limited') ?? 0) - before;
      const served = flooder.msgs.filter((m) => m.type === 'pong' || m.type === 'subscribed').length + flooder.of('error').filter((e) => e.code !== 'rate_limited').length;
      expect(counted + served).toBe(N);
      expect(flooder.closeCode).toBeNull();
      expect(good.of('trade').map((t) => t.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      flooder.close();
      good.close();
      report('flood', N);
    } finally {
      await gw.close();
    }
  });
});
