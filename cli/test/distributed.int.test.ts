import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { startSimulatedVenues, type SimulatedVenues } from '@depthwatch/ingest';
import { ensureClickHouse, ensureKafka } from '../../infra/local/ensure.ts';
import { startStage, type StageProcess } from './processes.ts';
import { connectStream, reconnectStream, type Message, type StreamClient } from './ws-client.ts';

/**
 * The distributed path for real: ingest, engine (+ ClickHouse sink) and gateway as three OS
 * processes on the real Kafka broker, against a simulated venue run by the test (so the test knows
 * exactly what the venue sent). ClickHouse is restarted and the engine is killed with SIGKILL
 * mid-run; afterwards every trade and liquidation the venue sent must be in ClickHouse exactly once.
 * Then the gateway is killed with SIGKILL and restarted: its clients reconnect and resubscribe, get
 * a book snapshot and updates that end equal to the venue's book, while ingest and engine go on.
 */

const VENUE = 'binance-futures';
const SYMBOL = 'BTC/USDT:USDT';
const run = `it${Date.now().toString(36)}`;
const db = `dw_${run}`;
const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let kafka: string;
let clickhouse: string;
let sim: SimulatedVenues;
let ch: ClickHouseClient;
const stages: StageProcess[] = [];
let gatewayUrl = '';
let ingestOpsUrl = '';

function stageArgs(): string[] {
  return ['--kafka', kafka, '--topic-prefix', `${run}.`];
}

let engineOpsUrl = '';

/** Sum of every sample of a metric (all label sets), `_count` for histograms. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.slice(0, line.search(/[{ ]/));
    sums.set(name, (sums.get(name) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return sums;
}

function startGateway(port = '0'): StageProcess {
  const p = startStage('gateway', ['gateway', ...stageArgs(), '--port', port, '--clickhouse', clickhouse, '--clickhouse-db', db]);
  stages.push(p);
  return p;
}

function startEngine(): StageProcess {
  const p = startStage('engine', ['engine', ...stageArgs(), '--group', `${run}-engine`, '--clickhouse', clickhouse, '--clickhouse-db', db, '--port', '0']);
  stages.push(p);
  return p;
}

async function count(table: string): Promise<number> {
  const rs = await ch.query({
    query: `SELECT count() AS n FROM ${db}.${table} FINAL WHERE venue = '${VENUE}' AND symbol = '${SYMBOL}'`,
    format: 'JSONEachRow',
  });
  const rows = (await rs.json()) as { n: string }[];
  return Number(rows[0]?.n ?? 0);
}

async function clickhouseScript(action: 'stop' | 'start'): Promise<void> {
  await exec('bash', ['infra/local/clickhouse.sh', action], { timeout: 120_000 });
}

beforeAll(async () => {
  kafka = await ensureKafka();
  clickhouse = await ensureClickHouse();
  ch = createClient({ url: clickhouse });
  sim = await startSimulatedVenues({ venues: [VENUE], symbols: { [VENUE]: [SYMBOL] }, scenario: 'calm', seed: 11, paused: true });
  const ep = sim.endpoints[VENUE]!;
  const engine = startEngine();
  engineOpsUrl = (await engine.waitFor(/health and metrics on (http:\/\/\S+?)\/healthz/))[1];
  const gateway = startGateway();
  await engine.waitFor(/health and metrics on/);
  gatewayUrl = (await gateway.waitFor(/gateway listening on (http:\/\/\S+)/))[1];
  const ingest = startStage('ingest', ['ingest', ...stageArgs(), '--venues', VENUE, '--symbols', SYMBOL, '--rest-url', `${VENUE}=${ep.restUrl}`, '--ws-url', `${VENUE}=${ep.wsUrl}`, '--port', '0']);
  stages.push(ingest);
  ingestOpsUrl = (await ingest.waitFor(/health and metrics on (http:\/\/\S+?)\/healthz/))[1];
}, 240_000);

afterAll(async () => {
  await Promise.all(stages.map((s) => s.kill()));
  await sim?.close();
  await ch?.command({ query: `DROP DATABASE IF EXISTS ${db}` }).catch(() => {});
  await ch?.close();
});

describe('three processes over Kafka, history in ClickHouse', () => {
  let client: StreamClient;

  it('delivers depth from the venue through ingest → Kafka → engine → Kafka → gateway', async () => {
    client = await connectStream(`${gatewayUrl.replace(/^http/, 'ws')}/v1/stream`);
    client.send({ op: 'subscribe', channels: ['depth', 'alerts', 'status'], venues: ['*'], symbols: ['*'] });
    // Binance's book syncs only once a diff bridges the REST snapshot, so the market must run.
    sim.market.resume();
    const depth = await client.next((m) => m.type === 'depth' && m.symbol === SYMBOL, 90_000);
    expect(depth.venue).toBe(VENUE);
    expect(depth.bestBid as number).toBeLessThan(depth.bestAsk as number);
  }, 120_000);

  it('raises a feed alert on the gateway when the venue stalls', async () => {
    await client.next((m) => m.type === 'depth' && (m.ts as number) > Date.now() - 5_000, 30_000);
    const since = client.messages.length;
    sim.faults(VENUE).stall(15_000);
    const alert = await client.next((m) => m.type === 'alert' && m.kind === 'feed' && m.venue === VENUE && m.state === 'open' && client.messages.indexOf(m) >= since, 60_000);
    expect(['watch', 'warning', 'critical']).toContain(alert.severity);
    expect(String(alert.explanation).length).toBeGreaterThan(0);
  }, 90_000);

  it('stores every trade and liquidation exactly once across a ClickHouse restart and an engine SIGKILL', async () => {
    sim.market.startCascade();
    await sleep(5_000);
    await clickhouseScript('stop');
    await sleep(4_000);
    await clickhouseScript('start');
    await sleep(4_000);
    const engine = stages.find((s) => s.name === 'engine' && s.child.exitCode === null)!;
    await engine.kill('SIGKILL');
    await sleep(2_000);
    const restarted = startEngine();
    engineOpsUrl = (await restarted.waitFor(/health and metrics on (http:\/\/\S+?)\/healthz/))[1];
    await sleep(6_000);
    sim.market.pause();

    const sent = sim.sent(VENUE);
    const expectedTrades = sent.trades[SYMBOL];
    const expectedLiquidations = sent.liquidations[SYMBOL];
    expect(expectedTrades).toBeGreaterThan(100);
    expect(expectedLiquidations).toBeGreaterThan(0);

    let trades = -1;
    let liquidations = -1;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      [trades, liquidations] = await Promise.all([count('trades'), count('liquidations')]);
      if (trades >= expectedTrades && liquidations >= expectedLiquidations) break;
      await sleep(1_000);
    }
    expect({ trades, liquidations }).toEqual({ trades: expectedTrades, liquidations: expectedLiquidations });
  }, 240_000);

  it('answers the history API from ClickHouse', async () => {
    const res = await fetch(`${gatewayUrl}/v1/history/trades?venue=${VENUE}&symbol=${encodeURIComponent(SYMBOL)}&limit=5`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { rows: unknown[] } | unknown[];
    const rows = Array.isArray(body) ? body : body.rows;
    expect(rows.length).toBe(5);
    const bad = await fetch(`${gatewayUrl}/v1/history/trades?venue=${VENUE}&symbol=${encodeURIComponent("BTC' OR 1=1 --")}`);
    expect(bad.status).toBe(400);
    client.close();
  });

  it('survives a gateway SIGKILL: clients reconnect, resubscribe, get a book snapshot, then updates ending equal to the venue book; ingest, engine and history unaffected', async () => {
    const wsUrl = `${gatewayUrl.replace(/^http/, 'ws')}/v1/stream`;
    const subscribe = { op: 'subscribe', reqId: 'again', channels: ['book', 'depth', 'trades', 'status', 'tickers'], venues: [VENUE], symbols: [SYMBOL], depth: 10 };
    const live = (name: string) => stages.find((s) => s.name === name && s.child.exitCode === null && s.child.signalCode === null)!;
    const ingest = live('ingest');
    const engine = live('engine');
    sim.market.resume();
    const first = await connectStream(wsUrl);
    first.send(subscribe);
    await first.next((m) => m.type === 'book', 60_000);

    const [ingestBefore, engineBefore] = await Promise.all([scrape(ingestOpsUrl), scrape(engineOpsUrl)]);
    await live('gateway').kill('SIGKILL');
    await first.closed;
    await sleep(3_000); // no gateway at all for a while
    const [ingestDuring, engineDuring] = await Promise.all([scrape(ingestOpsUrl), scrape(engineOpsUrl)]);
    const delta = (a: Map<string, number>, b: Map<string, number>, name: string) => (b.get(name) ?? 0) - (a.get(name) ?? 0);
    expect(delta(ingestBefore, ingestDuring, 'depthwatch_bus_produced_total')).toBeGreaterThan(0);
    expect(delta(engineBefore, engineDuring, 'depthwatch_engine_depth_published_total')).toBeGreaterThan(0);

    // Same port, as behind a fixed address; the client retries until the new process listens.
    startGateway(new URL(gatewayUrl).port);
    const { client, attempts } = await reconnectStream(wsUrl, 120_000);
    client.send(subscribe);
    const ack = await client.next((m) => m.type === 'subscribed' && m.reqId === 'again', 30_000);
    const at = client.messages.indexOf(ack);
    const snapshot = client.messages.slice(at + 1, at + 1 + (ack.snapshot as number));
    // The restarted gateway rebuilt the book from Kafka: the snapshot carries it at once.
    expect(snapshot.map((m) => m.type)).toContain('book');
    // ... and its state channels: the stream's latest status (published long before the restart) and ticker.
    // (The venue's connection status, symbol '*', matches every symbol filter and may come first.)
    expect(snapshot.find((m) => m.type === 'status' && m.symbol === SYMBOL)).toMatchObject({ venue: VENUE, state: 'synced' });
    expect(snapshot.find((m) => m.type === 'status' && m.symbol === '*')).toMatchObject({ venue: VENUE });
    expect(snapshot.find((m) => m.type === 'ticker')).toMatchObject({ venue: VENUE, symbol: SYMBOL });
    const books = () => client.messages.filter((m) => m.type === 'book');
    const firstBooks = books().length;
    await client.next(() => books().length >= firstBooks + 5, 30_000).catch(() => {});
    expect(books().length).toBeGreaterThanOrEqual(firstBooks + 5);

    sim.market.pause();
    const want = () => {
      const b = sim.market.book(VENUE, SYMBOL);
      return JSON.stringify({ bids: b.bids.slice(0, 10), asks: b.asks.slice(0, 10) });
    };
    const last = (type: string): Message | undefined => client.messages.findLast((m) => m.type === type);
    const got = () => {
      const b = last('book');
      return b && JSON.stringify({ bids: b.bids, asks: b.asks });
    };
    const deadline = Date.now() + 15_000;
    while (got() !== want() && Date.now() < deadline) await sleep(100);
    expect(got()).toBe(want());
    // The engine's view, through the gateway: its trailing depth publish reaches the same top of book.
    const venueBook = sim.market.book(VENUE, SYMBOL);
    const top = () => {
      const d = last('depth');
      return d && [d.bestBid, d.bestAsk];
    };
    while (JSON.stringify(top()) !== JSON.stringify([venueBook.bids[0]![0], venueBook.asks[0]![0]]) && Date.now() < deadline + 10_000) await sleep(100);
    expect(top()).toEqual([venueBook.bids[0]![0], venueBook.asks[0]![0]]);
    // A new connection numbers from 1 without holes.
    expect(client.gaps).toBe(0);
    expect(attempts).toBeGreaterThanOrEqual(1);

    // Ingest and engine never noticed: same processes, no book resync, and history is complete.
    expect([ingest.child.exitCode, engine.child.exitCode]).toEqual([null, null]);
    const ingestAfter = await scrape(ingestOpsUrl);
    expect(delta(ingestBefore, ingestAfter, 'depthwatch_ingest_resyncs_total')).toBe(0);
    const expectedTrades = sim.sent(VENUE).trades[SYMBOL];
    let trades = -1;
    const storeDeadline = Date.now() + 60_000;
    while (Date.now() < storeDeadline && trades !== expectedTrades) {
      trades = await count('trades');
      if (trades !== expectedTrades) await sleep(1_000);
    }
    expect(trades).toBe(expectedTrades);
    client.close();
  }, 240_000);

  it('exposes health and metrics on every process, and the metrics move', async () => {
    for (const url of [ingestOpsUrl, engineOpsUrl, gatewayUrl]) {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect([200, 503]).toContain((await fetch(`${url}/readyz`)).status);
    }
    const watcher = await connectStream(`${gatewayUrl.replace(/^http/, 'ws')}/v1/stream`);
    watcher.send({ op: 'subscribe', channels: ['depth', 'trades'], venues: ['*'], symbols: ['*'] });
    const before = await Promise.all([scrape(ingestOpsUrl), scrape(engineOpsUrl), scrape(gatewayUrl)]);
    sim.market.resume();
    await sleep(3_000);
    sim.faults(VENUE).sequenceGap(SYMBOL);
    await sleep(3_000);
    sim.faults(VENUE).disconnectAll();
    await watcher.next((m) => m.type === 'depth' && (m.ts as number) > Date.now() - 2_000, 30_000);
    await sleep(6_000);
    const after = await Promise.all([scrape(ingestOpsUrl), scrape(engineOpsUrl), scrape(gatewayUrl)]);
    const moving: [number, string][] = [
      [0, 'depthwatch_ingest_messages_total'],
      [0, 'depthwatch_ingest_bytes_total'],
      [0, 'depthwatch_ingest_resyncs_total'],
      [0, 'depthwatch_ingest_gaps_total'],
      [0, 'depthwatch_ingest_reconnects_total'],
      [0, 'depthwatch_ingest_feed_lag_seconds_count'],
      [0, 'depthwatch_bus_produced_total'],
      [1, 'depthwatch_bus_consumed_total'],
      [1, 'depthwatch_engine_events_total'],
      [1, 'depthwatch_engine_processing_seconds_count'],
      [1, 'depthwatch_engine_depth_published_total'],
      [1, 'depthwatch_sink_rows_inserted_total'],
      [1, 'depthwatch_sink_batches_total'],
      [1, 'depthwatch_sink_insert_latency_seconds_count'],
      [1, 'depthwatch_bus_produced_total'],
      [2, 'depthwatch_bus_consumed_total'],
      [2, 'depthwatch_gateway_messages_sent_total'],
      [2, 'depthwatch_gateway_bytes_sent_total'],
      [2, 'depthwatch_gateway_frames_sent_total'],
      [2, 'depthwatch_process_cpu_seconds_total'],
    ];
    const stuck = moving.filter(([i, name]) => !((after[i].get(name) ?? 0) > (before[i].get(name) ?? 0))).map(([i, name]) => `${['ingest', 'engine', 'gateway'][i]}:${name}`);
    expect(stuck).toEqual([]);
    for (const gaugeName of ['depthwatch_gateway_connections', 'depthwatch_engine_books', 'depthwatch_bus_consumer_lag', 'depthwatch_sink_buffered_rows']) {
      expect([...after[1].keys(), ...after[2].keys()]).toContain(gaugeName);
    }
    watcher.close();
  }, 120_000);
});
