import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MemoryBus } from '@depthwatch/bus';
import { serializeEvent, type AnyEvent, type MarketEvent, type Topic, type VenueId } from '@depthwatch/schemas';
import { startEngine } from '@depthwatch/engine';
import { startIngest, type VenueConfig } from '../collector.ts';
import { startSimulatedVenues } from '../sim/index.ts';
import { RawRecorder } from '../record/recorder.ts';
import { replayFiles, type ReplayOptions } from './replay.ts';

/**
 * Determinism proof: simulated venues (cascade + faults) → real collectors with the recorder on;
 * then the recording is replayed at max speed through ingest + engine (timers off) twice. The
 * engine's outputs must be byte-identical between the replays, and the replays' md.* events must
 * equal what the collectors published live (same content, same seq numbers).
 */

const MD: Topic[] = ['md.book', 'md.trade', 'md.liquidation', 'md.ticker', 'md.status'];
const OUT: Topic[] = ['out.depth', 'out.alert'];

const FAST: Partial<VenueConfig> = {
  reconnect: { baseMs: 30, maxMs: 150 },
  snapshotRetry: { baseMs: 20, maxMs: 80, failuresBeforeDown: 2 },
  tickMs: 50,
  snapshotIntervalMs: 700, // periodic snapshots happen inside the recording
  staleAfterMs: { book: 300 },
  pollIntervalMs: { open_interest: 150 }, // Binance USD-M open interest is polled many times in the recording
};

async function capture(bus: MemoryBus, topics: Topic[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of topics) await bus.subscribe(t, (e) => out.push(`${t} ${serializeEvent(e as AnyEvent)}`));
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function replayThroughEngine(files: string[], opts: Partial<ReplayOptions> = {}) {
  const bus = new MemoryBus();
  const md = await capture(bus, MD);
  const out = await capture(bus, OUT);
  const engine = await startEngine({ bus, timers: false });
  const result = await replayFiles(files, { bus, speed: 'max', ...opts });
  engine.flushDepth();
  await engine.close();
  return { md, out, result };
}

let dir = '';
let files: string[] = [];
/** The first max-speed replay, reused as the reference by the later tests. */
let full: Awaited<ReturnType<typeof replayThroughEngine>>;
let live: string[] = [];
const VENUES: VenueId[] = ['binance-futures', 'binance'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dw-replay-'));
  const sim = await startSimulatedVenues({ venues: VENUES, scenario: 'calm', timeScale: 10, paused: true, seed: 11 });
  const recorder = new RawRecorder({ dir, maxFileBytes: 150_000, fsyncIntervalMs: 200 });
  await recorder.start();
  const bus = new MemoryBus();
  live = await capture(bus, MD);
  const ingest = await startIngest({ bus, recorder: recorder.tap, venues: VENUES.map((venue) => ({ venue, ...sim.endpoints[venue]!, ...FAST })) });
  try {
    await waitFor('sockets open', () => [...ingest.sessions.values()].every((s) => s.connections.every((c) => c.open)));
    sim.market.resume();
    await waitFor('ready', () => ingest.health().ready);
    sim.market.startCascade();
    await sleep(300);
    // Faults so resync, snapshot failure/retry and reconnect paths are all in the recording.
    const f = sim.faults('binance-futures');
    f.failOpenInterest(2, 'http'); // failed polls are recorded and replayed too
    f.failSnapshots(3);
    f.sequenceGap('BTC/USDT:USDT');
    await waitFor('down after failed snapshots', () => ingest.sessions.get('binance-futures')!.feeds.get('BTC/USDT:USDT')!.state === 'down');
    await waitFor('recovered', () => ingest.health().ready);
    f.snapshotRace('ETH/USDT:USDT');
    await sleep(150);
    f.sequenceGap('ETH/USDT:USDT');
    sim.faults('binance').disconnectAll();
    f.truncatedFrame('@depth');
    f.failOpenInterest(2, 'malformed');
    await sleep(300);
    await waitFor('recovered again', () => ingest.health().ready);
    f.stall(400); // the books go stale, then fresh
    await sleep(700);
    sim.market.pause();
    await sleep(100);
  } finally {
    await ingest.close();
    await sim.close();
    await recorder.close();
  }
  files = recorder.files;
  expect(recorder.stats.dropped).toBe(0);
}, 30_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('record → replay determinism', () => {
  it('replays at max speed to byte-identical engine output twice, and to exactly the live md.* events', async () => {
    expect(files.length).toBeGreaterThan(1); // rotated mid-run
    const a = await replayThroughEngine(files);
    const b = await replayThroughEngine(files);
    full = a;
    // No recorded answer was applied anywhere but where it was recorded (that would warn).
    expect(a.result.warnings).toEqual([]);
    expect(a.result.unansweredRequests).toBe(0);
    expect(a.result.unansweredPolls).toBeLessThanOrEqual(3); // at most one per symbol in flight at the end
    // A sanity floor only: the recording's length follows wall-clock waits, so the count varies with machine speed.
    expect(a.out.filter((l) => l.startsWith('out.depth')).length).toBeGreaterThan(20);
    expect(a.out.join('\n') === b.out.join('\n')).toBe(true);
    expect(a.md.length).toBe(b.md.length);

    // The replay published what the collectors published live, event for event.
    expect(live.length).toBeGreaterThan(1000);
    const firstDiff = live.findIndex((l, i) => a.md[i] !== l);
    expect(firstDiff === -1 ? null : { i: firstDiff, live: live[firstDiff]?.slice(0, 300), replay: a.md[firstDiff]?.slice(0, 300) }).toBeNull();
    expect(a.md.length).toBe(live.length);
    // The faults are in there: failed snapshots, resyncs, reconnects, staleness, periodic snapshots.
    const statuses = live.filter((l) => l.startsWith('md.status')).join('\n');
    for (const s of ['"state":"down"', '"state":"stale"', 'reconnected', 'gap']) expect(statuses).toContain(s);
    const s = a.result.sessions.get('binance-futures')!;
    expect(s.counters.snapshotFailures).toBe(3);
    expect(s.counters.parseErrors).toBe(1);
    expect(s.feeds.get('ETH/USDT:USDT')!.stats.snapshotRefetches).toBe(1);
    // Polls are in there: open interest on the tickers, failed polls replayed as failures.
    expect(s.poller.counters.requests).toBeGreaterThan(15);
    expect(s.poller.counters.failures).toBe(4);
    const oi = live.filter((l) => l.startsWith('md.ticker') && /"openInterest":\d/.test(l));
    expect(oi.length).toBeGreaterThan(10);
    // And the connection-level status of both venues.
    for (const v of VENUES) expect(live.filter((l) => l.startsWith('md.status') && l.includes(`"venue":"${v}","symbol":"*"`)).length, v).toBeGreaterThanOrEqual(3);
  });

  it('replays a recording made before polled channels existed: no polls, everything else as before', async () => {
    // The same recording as an older collector would have written it: no `polls` in the session
    // config, no open-interest answers.
    const lines: string[] = [];
    for (const file of files) {
      for (const line of gunzipSync(await readFile(file)).toString('utf8').split('\n')) {
        if (!line) continue;
        const rec = JSON.parse(line) as { kind: string; url?: string; config?: Record<string, unknown> };
        if (rec.kind === 'rest' && rec.url!.includes('/openInterest')) continue;
        if (rec.kind === 'session') delete rec.config!.polls;
        lines.push(JSON.stringify(rec));
      }
    }
    const old = join(dir, 'before-polls.ndjson');
    await writeFile(old, lines.join('\n') + '\n');
    const r = await replayThroughEngine([old]);
    expect(r.result.warnings).toEqual([]);
    expect(r.result.unansweredRequests).toBe(0);
    expect(r.result.unansweredPolls).toBe(0);
    expect(r.result.sessions.get('binance-futures')!.poller.counters.requests).toBe(0);
    // Books, trades, liquidations and statuses are exactly those of the full replay: polls touch nothing else.
    const notTickers = (md: string[]) => md.filter((l) => !l.startsWith('md.ticker'));
    expect(notTickers(r.md)).toEqual(notTickers(full.md));
    expect(r.md.some((l) => l.startsWith('md.ticker') && /"openInterest":\d/.test(l))).toBe(false);
  });

  it('replays a recording cut mid-file up to the cut, with a warning', async () => {
    const last = files.at(-1)!;
    const gz = await readFile(last);
    const cut = join(dir, 'cut.ndjson.gz');
    await writeFile(cut, gz.subarray(0, Math.floor(gz.length / 2)));
    const r = await replayThroughEngine([...files.slice(0, -1), cut]);
    expect(r.result.truncated).toBe(true);
    expect(r.result.warnings.join('\n')).toMatch(/gzip stream is truncated/);
    expect(r.md.length).toBeGreaterThan(0);
    expect(r.md.length).toBeLessThan(full.md.length);
    expect(r.md).toEqual(full.md.slice(0, r.md.length));

    const plain = join(dir, 'cut.ndjson');
    const text = gunzipSync(gz).toString('utf8');
    await writeFile(plain, text.slice(0, text.lastIndexOf('\n', text.length / 2) + 25));
    const p = await replayThroughEngine([...files.slice(0, -1), plain]);
    expect(p.result.truncated).toBe(true);
    expect(p.result.warnings.join('\n')).toMatch(/last line is truncated/);
    expect(p.md).toEqual(full.md.slice(0, p.md.length));
  });

  it('from: fast-forwards to it, publishes each stream state there, then exactly what the full replay published', async () => {
    const t0 = full.result.firstTs!;
    const from = Math.round(t0 + (full.result.lastTs! - t0) * 0.4);
    const w = await replayThroughEngine(files, { from });
    const k = w.result.stateEvents;
    expect(k).toBeGreaterThanOrEqual(6 * 2); // status + book snapshot (+ ticker) per stream
    expect(w.result.heldBack).toBeGreaterThan(100);
    expect(w.md.slice(k)).toEqual(full.md.slice(full.md.length - (w.md.length - k)));
    expect(w.md.length - k).toBeLessThan(full.md.length);
    // Every book stream starts with a snapshot and its seq runs on without a hole.
    const events = w.md.map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)) as MarketEvent);
    const seen = new Map<string, number>();
    for (const e of events) {
      if (e.type !== 'book_snapshot' && e.type !== 'book_delta') continue;
      const key = `${e.venue}:${e.symbol}`;
      if (!seen.has(key)) expect(e.type, key).toBe('book_snapshot');
      else expect(e.seq, key).toBe(seen.get(key)! + 1);
      seen.set(key, e.seq);
    }
    expect(seen.size).toBe(6);
    expect(w.out.some((l) => l.startsWith('out.depth'))).toBe(true);
  });

  it('to: stops there; speed 10 paces (1.5 s recorded ≥ 150 ms) and publishes the same as max speed', async () => {
    const to = full.result.firstTs! + 1500;
    const max = await replayThroughEngine(files, { to });
    const started = Date.now();
    const paced = await replayThroughEngine(files, { to, speed: 10 });
    const took = Date.now() - started;
    expect(max.result.lastTs!).toBeLessThanOrEqual(to);
    // The cut is real: the full recording goes on past `to` (its length follows wall-clock waits, so no ratio).
    expect(full.result.lastTs!).toBeGreaterThan(to);
    expect(max.md.length).toBeLessThan(full.md.length);
    expect(max.md).toEqual(full.md.slice(0, max.md.length));
    expect(took).toBeGreaterThanOrEqual(140);
    expect(paced.md).toEqual(max.md);
    expect(paced.out).toEqual(max.out);
  });
});
