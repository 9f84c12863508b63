import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import { registry } from '@depthwatch/ops';
import { startGateway, type Gateway, type GatewayConfig } from '../index.ts';
import type { AssetDepth } from '@depthwatch/schemas';
import { TestClient, alertEvent, bookDelta, bookSnapshot, depthEvent, liquidationEvent, sleep, statusEvent, tickerEvent, tradeEvent, type Msg } from '../testing.ts';

const BTC = 'BTC/USDT:USDT';
const ETH = 'ETH/USDT:USDT';

let gw: Gateway | null = null;
let bus: MemoryBus;
const clients: TestClient[] = [];

async function start(config: Partial<GatewayConfig> = {}, extra: Partial<Parameters<typeof startGateway>[0]> = {}): Promise<Gateway> {
  bus = new MemoryBus();
  gw = await startGateway({ bus, port: 0, config: { tickMs: 10, ...config }, ...extra });
  return gw;
}

async function client(opts: Parameters<typeof TestClient.connect>[1] = {}): Promise<TestClient> {
  const c = await TestClient.connect(gw!.url, opts);
  clients.push(c);
  await c.waitFor((m) => m.type === 'hello');
  return c;
}

async function refusedCount(reason: string): Promise<number> {
  const metric = await registry.getSingleMetric('depthwatch_gateway_refused_total')!.get();
  return metric.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

async function httpStatus(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(gw!.url + path, { headers });
  return { status: res.status, body: await res.text() };
}

/** Attempts a WebSocket upgrade and returns the HTTP status and JSON body of a refusal (101 = accepted). */
async function upgradeStatus(headers: Record<string, string> = {}, path = '/v1/stream'): Promise<{ status: number; body: string }> {
  const { WebSocket } = await import('ws');
  return new Promise((resolve) => {
    const ws = new WebSocket(gw!.url.replace('http', 'ws') + path, { headers, perMessageDeflate: false });
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.on('error', () => {});
  });
}

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await gw?.close();
  gw = null;
});

describe('gateway stream: channels and framing', () => {
  it('greets, acknowledges a subscribe and delivers every channel in cseq-numbered frames', async () => {
    await start();
    const c = await client();
    const hello = c.msgs[0];
    expect(hello).toMatchObject({ type: 'hello', protocol: 1, tickMs: 10, maxBookDepth: 1000 });
    const sub = await c.request({ op: 'subscribe', channels: ['depth', 'book', 'trades', 'liquidations', 'tickers', 'alerts', 'status'], venues: ['*'], symbols: [BTC], depth: 3 });
    expect(sub).toMatchObject({ type: 'subscribed', id: 1, channels: ['alerts', 'book', 'depth', 'liquidations', 'status', 'tickers', 'trades'], venues: ['*'], symbols: [BTC], assets: ['*'], depth: 3, snapshot: 0 });

    bus.publish('out.depth', 'k', depthEvent('bybit', BTC, 60_000, 1));
    bus.publish('md.book', 'k', bookSnapshot('bybit', BTC, 60_000, 10));
    bus.publish('md.trade', 'k', tradeEvent('bybit', BTC, 1));
    bus.publish('md.liquidation', 'k', liquidationEvent('bybit', BTC, 1));
    bus.publish('md.ticker', 'k', tickerEvent('bybit', BTC, 1));
    bus.publish('out.alert', 'k', alertEvent('a1'));
    bus.publish('md.status', 'k', statusEvent('bybit', BTC, 1));
    // Another symbol: must not arrive.
    bus.publish('md.trade', 'k', tradeEvent('bybit', ETH, 2));
    for (const type of ['depth', 'book', 'trade', 'liquidation', 'ticker', 'alert', 'status']) await c.waitFor((m) => m.type === type);
    await sleep(50);

    const depth = c.of('depth')[0];
    expect(depth).toEqual(JSON.parse(JSON.stringify(depthEvent('bybit', BTC, 60_000, 1, { ts: depth.ts as number }))));
    const book = c.of('book')[0];
    expect(book).toMatchObject({ venue: 'bybit', symbol: BTC, seq: 1, bids: [[59_999, 1], [59_998, 2], [59_997, 3]], asks: [[60_001, 1], [60_002, 2], [60_003, 3]] });
    expect(c.of('trade')).toHaveLength(1);
    expect(c.of('trade')[0]).toMatchObject({ symbol: BTC, id: 't1' });
    expect(c.of('alert')[0]).toMatchObject({ id: 'a1', venue: '*', asset: 'BTC' });
    expect(c.seqErrors).toBe(0);
    expect(c.binaryFrames).toBe(0);
    // Sequence numbers: frames are contiguous and start at 1.
    expect(c.frames[0].cseq).toBe(1);
    const total = c.frames.reduce((n, f) => n + f.n, 0);
    expect(c.expected).toBe(total + 1);
    expect(total).toBe(c.msgs.length);
  });

  it('coalesces a burst into few frames and conflates depth per stream to the latest value', async () => {
    await start({ tickMs: 40 });
    const c = await client();
    await c.request({ op: 'subscribe', channels: ['depth', 'trades'], symbols: [BTC] });
    const framesBefore = c.frames.length;
    for (let i = 1; i <= 200; i++) {
      bus.publish('out.depth', 'k', depthEvent('bybit', BTC, 60_000 + i, i));
      bus.publish('md.trade', 'k', tradeEvent('bybit', BTC, i));
    }
    await c.waitFor((m) => m.type === 'depth' && m.seq === 200);
    await sleep(100);
    const depths = c.of('depth');
    expect(depths.length).toBeLessThan(10); // 200 updates conflated
    expect(depths.at(-1)!.mid).toBe(60_200);
    expect(c.of('trade')).toHaveLength(200); // trades are never conflated
    expect(c.of('trade').map((t) => t.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(c.frames.length - framesBefore).toBeLessThan(10); // 200+ messages in a handful of frames
    const stats = gw!.clientStats()[0];
    expect(stats.conflated).toBeGreaterThanOrEqual(190);
    const conflated = await registry.getSingleMetric('depthwatch_gateway_conflated_total')!.get();
    expect(conflated.values.find((v) => v.labels.channel === 'depth')?.value ?? 0).toBeGreaterThanOrEqual(190);
  });

  it('maintains books from md.book and serves each client its own top N', async () => {
    await start();
    const a = await client();
    const b = await client();
    await a.request({ op: 'subscribe', channels: ['book'], symbols: [BTC], depth: 2 });
    await b.request({ op: 'subscribe', channels: ['book'], symbols: [BTC], depth: 5 });
    bus.publish('md.book', 'k', bookDelta('bybit', BTC, 1, [[1, 1]], [])); // before any snapshot: ignored
    bus.publish('md.book', 'k', bookSnapshot('bybit', BTC, 100, 10, 2));
    bus.publish('md.book', 'k', bookDelta('bybit', BTC, 3, [[99.5, 7], [99, 0]], [[101, 0]]));
    const ma = await a.waitFor((m) => m.type === 'book' && m.seq === 3);
    const mb = await b.waitFor((m) => m.type === 'book' && m.seq === 3);
    expect(ma.bids).toEqual([[99.5, 7], [98, 2]]);
    expect(ma.asks).toEqual([[102, 2], [103, 3]]);
    expect((mb.bids as unknown[]).length).toBe(5);
    expect(a.of('book').every((m) => m.seq !== 1)).toBe(true);
  });
});

describe('gateway stream: filters', () => {
  it('matches venues, symbols and assets with wildcards and prefix patterns', async () => {
    await start();
    const byVenue = await client();
    const byPrefix = await client();
    const byAsset = await client();
    const byVenuePrefix = await client();
    await byVenue.request({ op: 'subscribe', channels: ['trades', 'alerts'], venues: ['okx'] });
    await byPrefix.request({ op: 'subscribe', channels: ['trades'], symbols: ['ETH/*'] });
    await byAsset.request({ op: 'subscribe', channels: ['trades', 'alerts'], assets: ['BTC'] });
    await byVenuePrefix.request({ op: 'subscribe', channels: ['trades'], venues: ['binance*'], symbols: [BTC] });

    bus.publish('md.trade', 'k', tradeEvent('okx', BTC, 1));
    bus.publish('md.trade', 'k', tradeEvent('okx', ETH, 2));
    bus.publish('md.trade', 'k', tradeEvent('binance', 'ETH/USDT', 3));
    bus.publish('md.trade', 'k', tradeEvent('binance-futures', BTC, 4));
    bus.publish('md.trade', 'k', tradeEvent('binance', BTC, 5));
    bus.publish('md.trade', 'k', tradeEvent('bybit', 'SOL/USDT:USDT', 6));
    // Cross-venue BTC alert (venue '*') and an ETH alert on okx.
    bus.publish('out.alert', 'k', alertEvent('x1'));
    bus.publish('out.alert', 'k', alertEvent('x2', { scope: 'symbol', venue: 'okx', symbol: ETH, asset: 'ETH' }));
    const last = (c: TestClient, seq: number) => c.waitFor((m) => m.type === 'trade' && m.seq === seq);
    await Promise.all([last(byVenue, 2), last(byPrefix, 3), last(byAsset, 5), last(byVenuePrefix, 5)]);
    await sleep(60);
    const seqs = (c: TestClient) => c.of('trade').map((m) => m.seq);
    expect(seqs(byVenue)).toEqual([1, 2]);
    expect(seqs(byPrefix)).toEqual([2, 3]);
    expect(seqs(byAsset)).toEqual([1, 4, 5]);
    expect(seqs(byVenuePrefix)).toEqual([4, 5]);
    expect(byVenue.of('alert').map((m) => m.id)).toEqual(['x1', 'x2']); // '*' venue alert reaches a venue filter
    expect(byAsset.of('alert').map((m) => m.id)).toEqual(['x1']);
  });

  it('delivers a message once to a client whose subscriptions overlap', async () => {
    await start();
    const c = await client();
    await c.request({ op: 'subscribe', channels: ['trades'], symbols: [BTC] });
    await c.request({ op: 'subscribe', channels: ['trades'], assets: ['BTC'] });
    bus.publish('md.trade', 'k', tradeEvent('okx', BTC, 1));
    await c.waitFor((m) => m.type === 'trade');
    await sleep(50);
    expect(c.of('trade')).toHaveLength(1);
  });
});

describe('gateway stream: snapshot on subscribe and unsubscribe', () => {
  it('sends latest depth, current book, latest ticker and status, and open alerts right after "subscribed"', async () => {
    await start();
    bus.publish('out.depth', 'k', depthEvent('okx', BTC, 60_000, 1));
    bus.publish('out.depth', 'k', depthEvent('okx', BTC, 60_010, 2));
    bus.publish('out.depth', 'k', depthEvent('okx', ETH, 3000, 1));
    bus.publish('md.book', 'k', bookSnapshot('okx', BTC, 60_000, 50, 7));
    bus.publish('md.ticker', 'k', tickerEvent('okx', BTC, 1, 60_001));
    bus.publish('md.status', 'k', statusEvent('okx', BTC, 1, 'synced'));
    bus.publish('md.status', 'k', statusEvent('okx', '*', 1, 'synced'));
    bus.publish('out.alert', 'k', alertEvent('open1'));
    bus.publish('out.alert', 'k', alertEvent('gone', { state: 'open' }));
    bus.publish('out.alert', 'k', alertEvent('gone', { state: 'resolved', endTs: Date.now() }));
    bus.publish('md.trade', 'k', tradeEvent('okx', BTC, 1)); // trades have no snapshot
    const c = await client();
    const sub = await c.request({ op: 'subscribe', channels: ['depth', 'book', 'tickers', 'status', 'alerts', 'trades'], symbols: [BTC], depth: 4 });
    expect(sub.snapshot).toBe(6);
    await sleep(50);
    const idx = c.msgs.indexOf(sub);
    const snap = c.msgs.slice(idx + 1, idx + 7);
    const types = snap.map((m) => m.type).sort();
    expect(types).toEqual(['alert', 'book', 'depth', 'status', 'status', 'ticker']);
    expect(snap.find((m) => m.type === 'depth')).toMatchObject({ seq: 2, mid: 60_010 });
    expect((snap.find((m) => m.type === 'book')!.bids as unknown[]).length).toBe(4);
    expect(snap.find((m) => m.type === 'alert')!.id).toBe('open1');
    expect(c.of('trade')).toHaveLength(0);
  });

  it('delivers cross-venue asset_depth on the depth channel like an asset-scope alert, and snapshots the latest', async () => {
    await start();
    const ad = (asset: string, seq: number, bid: number): AssetDepth => ({
      type: 'asset_depth', venue: '*', symbol: '*', asset, ts: 1_700_000_000_000 + seq * 1000, seq,
      venues: ['bybit', 'okx'], depth2PctBidQuote: bid, depth2PctAskQuote: 2e6, depth2PctBidBaseline: 4e6, depth2PctAskBaseline: null,
      depthTruncated: false, liquidations: [{ windowSec: 10, longNotional: 5e4, shortNotional: 0, longCount: 1, shortCount: 0, longLargest: 5e4, shortLargest: 0 }],
      lowerBoundVenues: [], capacity: [{ bps: 10, buyQuote: 1e5, sellQuote: 2e5 }],
    });
    bus.publish('out.depth', '*:BTC', ad('BTC', 1, 3e6));
    bus.publish('out.depth', '*:BTC', ad('BTC', 2, 3.5e6));
    bus.publish('out.depth', '*:ETH', ad('ETH', 1, 1e6));
    const c = await client();
    // Symbol filter with a venue list: the '*' venue/symbol of the aggregate matches (as alerts do); the asset filter applies.
    const sub = await c.request({ op: 'subscribe', channels: ['depth'], venues: ['okx'], assets: ['BTC'] });
    expect(sub.snapshot).toBe(1);
    await c.waitFor((m) => m.type === 'asset_depth');
    expect(c.of('asset_depth')[0]).toEqual(JSON.parse(JSON.stringify(ad('BTC', 2, 3.5e6))));
    const other = await client();
    await other.request({ op: 'subscribe', channels: ['trades'], assets: ['BTC'] }); // not the depth channel
    const eth = await client();
    await eth.request({ op: 'subscribe', channels: ['depth'], symbols: ['ETH/*'] });
    await eth.waitFor((m) => m.type === 'asset_depth'); // snapshot: symbol prefix matches '*', asset filter is '*'
    bus.publish('out.depth', '*:BTC', ad('BTC', 3, 1e6));
    bus.publish('out.depth', '*:ETH', ad('ETH', 2, 9e5));
    await c.waitFor((m) => m.type === 'asset_depth' && m.seq === 3);
    await eth.waitFor((m) => m.type === 'asset_depth' && m.asset === 'ETH' && m.seq === 2);
    await sleep(50);
    expect(c.of('asset_depth').map((m) => `${m.asset}:${m.seq}`)).toEqual(['BTC:2', 'BTC:3']);
    expect(other.of('asset_depth')).toHaveLength(0);
    expect(c.seqErrors).toBe(0);
  });

  it('unsubscribes by id, by the same filter, and all at once', async () => {
    await start();
    const c = await client();
    const s1 = await c.request({ op: 'subscribe', channels: ['trades', 'liquidations'], symbols: [BTC] });
    const s2 = await c.request({ op: 'subscribe', channels: ['trades'], symbols: [ETH] });
    expect(await c.request({ op: 'unsubscribe', id: s2.id })).toMatchObject({ type: 'unsubscribed', ids: [s2.id], removed: ['trades'] });
    bus.publish('md.trade', 'k', tradeEvent('okx', ETH, 1));
    bus.publish('md.trade', 'k', tradeEvent('okx', BTC, 2));
    await c.waitFor((m) => m.type === 'trade' && m.seq === 2);
    expect(c.of('trade').map((m) => m.seq)).toEqual([2]);

    // Same filter, one channel: the subscription keeps liquidations only.
    expect(await c.request({ op: 'unsubscribe', channels: ['trades'], symbols: [BTC] })).toMatchObject({ ids: [s1.id], removed: ['trades'] });
    bus.publish('md.trade', 'k', tradeEvent('okx', BTC, 3));
    bus.publish('md.liquidation', 'k', liquidationEvent('okx', BTC, 4));
    await c.waitFor((m) => m.type === 'liquidation');
    expect(c.of('trade').map((m) => m.seq)).toEqual([2]);

    expect(await c.request({ op: 'unsubscribe', id: 99 })).toMatchObject({ type: 'error', code: 'unknown_subscription' });
    expect(await c.request({ op: 'unsubscribe', channels: ['trades'], symbols: ['SOL/USDT'] })).toMatchObject({ type: 'error', code: 'unknown_subscription' });
    expect(await c.request({ op: 'unsubscribe' })).toMatchObject({ type: 'unsubscribed', ids: [s1.id] });
    bus.publish('md.liquidation', 'k', liquidationEvent('okx', BTC, 5));
    await sleep(60);
    expect(c.of('liquidation')).toHaveLength(1);
    expect(gw!.clientStats()[0].subscriptions).toBe(0);
  });
});

describe('gateway stream: errors and limits keep the connection up', () => {
  it('answers bad JSON, unknown op/channel, bad filters and bad fields with errors', async () => {
    await start();
    const c = await client();
    const before = await refusedCount('bad_json');
    c.send('{"op": subscr');
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'bad_json' });
    expect(await refusedCount('bad_json')).toBe(before + 1);
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ op: 'dance' }, 'unknown_op', /unknown op "dance"/],
      [{ op: 'subscribe', channels: ['depth', 'orders'] }, 'unknown_channel', /orders/],
      [{ op: 'subscribe', channels: ['depth'], symbols: ['btc-usdt'] }, 'bad_filter', /unified symbol/],
      [{ op: 'subscribe', channels: ['depth'], venues: ['nowhere'] }, 'bad_filter', /venue/],
      [{ op: 'subscribe', channels: ['depth'], symbols: ['B*TC'] }, 'bad_filter', /B\*TC/],
      [{ op: 'subscribe', channels: ['book'], depth: 5000 }, 'bad_filter', /1\.\.1000/],
      [{ op: 'subscribe', channels: ['depth'], colour: 'red' }, 'bad_request', /additional/],
      [{ op: 'subscribe' }, 'bad_request', /channels/],
      [{ op: 'subscribe', channels: [] }, 'bad_request', /channels/],
    ];
    for (const [req, code, msg] of cases) {
      const r = await c.request(req);
      expect(r, JSON.stringify(req)).toMatchObject({ type: 'error', code });
      expect(r.message as string).toMatch(msg);
    }
    c.send('[1,2]');
    expect(await c.waitFor((m) => m.type === 'error' && m.code === 'bad_request' && m.reqId === undefined)).toBeTruthy();
    // Still alive and serving.
    expect(await c.request({ op: 'ping' })).toMatchObject({ type: 'pong' });
    expect(c.closeCode).toBeNull();
    expect(c.seqErrors).toBe(0);
  });

  it('refuses oversized messages, too many subscriptions and request floods without disconnecting', async () => {
    await start({ maxMessageBytes: 512, maxSubscriptionsPerConnection: 2, rateLimitPerSec: 5, rateLimitBurst: 6 });
    const c = await client();
    const tooBig = { op: 'subscribe', channels: ['depth'], symbols: Array.from({ length: 60 }, (_, i) => `X${i}/USDT`) };
    c.send(tooBig);
    expect(await c.waitFor((m) => m.type === 'error')).toMatchObject({ code: 'message_too_large' });
    await c.request({ op: 'subscribe', channels: ['depth'] });
    await c.request({ op: 'subscribe', channels: ['trades'] });
    const r = await c.request({ op: 'subscribe', channels: ['book'] });
    expect(r).toMatchObject({ type: 'error', code: 'too_many_subscriptions' });
    const before = await refusedCount('rate_limited');
    for (let i = 0; i < 20; i++) c.send({ op: 'ping' });
    await c.waitFor((m) => m.type === 'error' && m.code === 'rate_limited');
    await sleep(50);
    expect(c.of('error').filter((m) => m.code === 'rate_limited')).toHaveLength(1); // answered once per second
    expect(await refusedCount('rate_limited')).toBeGreaterThanOrEqual(before + 15);
    await sleep(500); // bucket refills
    expect(await c.request({ op: 'ping' })).toMatchObject({ type: 'pong' });
    expect(c.closeCode).toBeNull();
  });

  it('refuses connections over the limit, without a valid API key, past the per-key limit and from foreign origins', async () => {
    await start({ maxConnections: 3, apiKeys: [{ name: 'desk', key: 'desk-secret-1', maxConnections: 1 }, { name: 'ops', key: 'ops-secret-22' }], allowedOrigins: ['https://ok.example'] });
    expect((await upgradeStatus()).status).toBe(401);
    const wrong = await upgradeStatus({ 'x-api-key': 'desk-secret-2' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toMatchObject({ code: 'unauthorized' });
    expect(wrong.body).not.toContain('secret');
    const a = await client({ headers: { 'x-api-key': 'desk-secret-1' } });
    const perKey = await upgradeStatus({ authorization: 'Bearer desk-secret-1' });
    expect(perKey.status).toBe(429);
    expect(JSON.parse(perKey.body).code).toBe('key_connection_limit');
    expect((await upgradeStatus({ 'x-api-key': 'ops-secret-22', origin: 'https://evil.example' })).status).toBe(403);
    await client({ path: '/v1/stream?apikey=ops-secret-22', headers: { origin: 'https://ok.example' } });
    await client({ headers: { 'x-api-key': 'ops-secret-22', origin: gw!.url } }); // same origin
    const before = await refusedCount('too_many_connections');
    const full = await upgradeStatus({ 'x-api-key': 'ops-secret-22' });
    expect(full.status).toBe(503);
    expect(JSON.parse(full.body).message).toMatch(/limit of 3 connections/);
    expect(await refusedCount('too_many_connections')).toBe(before + 1);
    expect((await upgradeStatus({ 'x-api-key': 'ops-secret-22' }, '/elsewhere')).status).toBe(404);
    // Releasing the key's connection frees its slot.
    a.close();
    await sleep(100);
    expect((await upgradeStatus({ 'x-api-key': 'desk-secret-1' })).status).not.toBe(429);
    // History API needs the key too.
    expect((await httpStatus('/v1/history/trades')).status).toBe(401);
    expect((await httpStatus('/v1/history/trades', { 'x-api-key': 'ops-secret-22' })).status).toBe(200);
  });

  it('terminates clients that stop answering keepalive pings', async () => {
    await start({ keepaliveMs: 100 });
    const alive = await client();
    const dead = await client({ autoPong: false });
    expect(await dead.closed(2000)).toBe(1006);
    await sleep(250);
    expect(alive.closeCode).toBeNull();
  });
});

describe('gateway http: health and metrics', () => {
  it('serves /healthz, /readyz (with extra health sources) and /metrics', async () => {
    let sourceReady = true;
    await start({}, { healthSources: () => [{ alive: true, ready: sourceReady, details: (sourceReady ? {} : { feed: 'binance down' }) as Record<string, string> }] });
    expect((await httpStatus('/healthz')).status).toBe(200);
    expect((await httpStatus('/readyz')).status).toBe(200);
    sourceReady = false;
    const r = await httpStatus('/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).stages[1].details.feed).toBe('binance down');
    const c = await client();
    await c.request({ op: 'ping' });
    const metrics = await httpStatus('/metrics');
    expect(metrics.status).toBe(200);
    for (const name of ['connections', 'subscriptions', 'messages_sent_total', 'bytes_sent_total', 'frames_sent_total', 'conflated_total', 'dropped_total', 'slow_disconnects_total', 'refused_total', 'fanout_latency_seconds']) {
      expect(metrics.body).toContain(`depthwatch_gateway_${name}`);
    }
    expect((await httpStatus('/nope')).status).toBe(404);
    expect((await fetch(gw!.url + '/healthz', { method: 'POST' })).status).toBe(405);
    const page = await httpStatus('/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<script type="module" src="app.js">');
    expect((await httpStatus('/app.js')).body).toContain('/v1/stream');
  });
});

export type { Msg };

describe('gateway stream: subscription changes keep routing exact', () => {
  it('after subscribe/unsubscribe churn across clients, each client gets exactly the trades its filters match', async () => {
    await start();
    const symbols = [BTC, ETH];
    const cs = await Promise.all([0, 1, 2, 3, 4, 5].map(() => client()));
    // Warm the route cache for both streams before the churn, so churn must update it in place.
    bus.publish('md.trade', 'k', tradeEvent('bybit', BTC, 1));
    bus.publish('md.trade', 'k', tradeEvent('bybit', ETH, 2));
    const wants: Set<string>[] = cs.map(() => new Set());
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < cs.length; i++) {
        const symbol = symbols[(i + round) % 2];
        if ((i + round) % 3 === 0 && wants[i].size > 0) {
          await cs[i].request({ op: 'unsubscribe' });
          wants[i].clear();
        } else {
          await cs[i].request({ op: 'subscribe', channels: ['trades'], venues: ['bybit'], symbols: [symbol] });
          wants[i].add(symbol);
        }
      }
      const base = 100 + round * 10;
      bus.publish('md.trade', 'k', tradeEvent('bybit', BTC, base));
      bus.publish('md.trade', 'k', tradeEvent('bybit', ETH, base + 1));
      gw!.tick();
      await sleep(100);
      for (let i = 0; i < cs.length; i++) {
        const got = cs[i].msgs.filter((m) => m.type === 'trade' && (m.seq === base || m.seq === base + 1)).map((m) => m.symbol as string);
        expect(new Set(got), `client ${i} round ${round}`).toEqual(wants[i]);
        expect(got.length).toBe(wants[i].size);
      }
    }
  });
});
