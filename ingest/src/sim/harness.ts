import { onTestFinished } from 'vitest';
import { MemoryBus } from '@depthwatch/bus';
import type { FeedStatus, Level, MarketEvent, Ticker, VenueId } from '@depthwatch/schemas';
import { startIngest, type IngestStage, type VenueConfig } from '../collector.ts';
import type { VenueAdapter } from '../sync/adapter.ts';
import { marketInfo } from '../metadata/index.ts';
import { toBase } from '../venues/util.ts';
import { startSimulatedVenues, type SimOptions, type SimulatedVenues } from './index.ts';

/**
 * Test support for collector-against-simulated-venue integration tests: a consumer-side recorder
 * that rebuilds every book from the published events and flags anything published for a symbol
 * outside 'synced'/'stale', a setup that connects the real collector to the simulated venues, and
 * checkpoints that pause the market and require the collector's book to equal the simulator's.
 */

export const FAST: Partial<VenueConfig> = {
  reconnect: { baseMs: 30, maxMs: 150 },
  snapshotRetry: { baseMs: 20, maxMs: 80, failuresBeforeDown: 3 },
  tickMs: 50,
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export class Recorder {
  books = new Map<string, { bids: Map<number, number>; asks: Map<number, number> }>();
  state = new Map<string, string>();
  statuses: FeedStatus[] = [];
  counts = new Map<string, number>();
  violations: string[] = [];
  seqs = new Map<string, number>();
  /** Every trade/liquidation event, for exact field checks. */
  events: MarketEvent[] = [];
  /** Last ticker per venue:symbol (the framework publishes merged, full tickers). */
  tickers = new Map<string, Ticker>();

  async attach(bus: MemoryBus): Promise<void> {
    for (const topic of ['md.book', 'md.trade', 'md.liquidation', 'md.ticker', 'md.status'] as const) {
      await bus.subscribe(topic, (e) => this.on(topic, e as MarketEvent));
    }
  }

  private on(topic: string, e: MarketEvent): void {
    const key = `${e.venue}:${e.symbol}`;
    const sk = `${key}:${topic}`;
    const prevSeq = this.seqs.get(sk) ?? 0;
    if (e.seq !== prevSeq + 1) this.violations.push(`${sk} seq ${prevSeq} → ${e.seq}`);
    this.seqs.set(sk, e.seq);
    if (!Number.isInteger(e.ts) || !Number.isInteger(e.recvTs)) this.violations.push(`${sk} non-integer time`);
    this.counts.set(`${key}:${e.type}`, (this.counts.get(`${key}:${e.type}`) ?? 0) + 1);
    if (e.type === 'status') {
      this.state.set(key, e.state);
      this.statuses.push(e);
      return;
    }
    const st = this.state.get(key);
    if (st !== 'synced' && st !== 'stale') this.violations.push(`${key} ${e.type} published while ${st}`);
    if (e.type === 'trade' || e.type === 'liquidation') this.events.push(e);
    if (e.type === 'ticker') this.tickers.set(key, e);
    if (e.type === 'book_snapshot') this.books.set(key, { bids: new Map(e.bids), asks: new Map(e.asks) });
    else if (e.type === 'book_delta') {
      const b = this.books.get(key);
      if (!b) {
        this.violations.push(`${key} delta before snapshot`);
        return;
      }
      for (const [p, q] of e.bids) q === 0 ? b.bids.delete(p) : b.bids.set(p, q);
      for (const [p, q] of e.asks) q === 0 ? b.asks.delete(p) : b.asks.set(p, q);
    }
  }

  count(venue: string, symbol: string, type: string): number {
    return this.counts.get(`${venue}:${symbol}:${type}`) ?? 0;
  }

  top(venue: string, symbol: string, n: number): { bids: Level[]; asks: Level[] } | null {
    const b = this.books.get(`${venue}:${symbol}`);
    if (!b) return null;
    return {
      bids: [...b.bids].sort((x, y) => y[0] - x[0]).slice(0, n),
      asks: [...b.asks].sort((x, y) => x[0] - y[0]).slice(0, n),
    };
  }
}

export interface Harness {
  sim: SimulatedVenues;
  bus: MemoryBus;
  ingest: IngestStage;
  rec: Recorder;
  close(): Promise<void>;
}

/** Simulated venues (paused) → collector → memory bus; resumes the market once every socket is open and waits for readiness. */
export async function startHarness(
  venues: VenueId[],
  cfg: Partial<VenueConfig> = {},
  opts: { adapters?: Record<string, VenueAdapter>; sim?: Partial<SimOptions>; waitReady?: boolean } = {},
): Promise<Harness> {
  const sim = await startSimulatedVenues({ venues, scenario: 'calm', timeScale: 10, paused: true, seed: 7, ...opts.sim });
  const bus = new MemoryBus();
  const rec = new Recorder();
  await rec.attach(bus);
  const ingest = await startIngest({
    bus,
    adapters: opts.adapters,
    venues: venues.map((venue) => ({ venue, restUrl: sim.endpoints[venue]!.restUrl, wsUrl: sim.endpoints[venue]!.wsUrl, ...FAST, ...cfg })),
  });
  const close = async () => {
    await ingest.close();
    await sim.close();
  };
  try {
    await waitFor('all sockets open', () => [...ingest.sessions.values()].every((s) => s.connections.every((c) => c.open)));
    sim.market.resume();
    if (opts.waitReady !== false) await waitFor('ready', () => ingest.health().ready);
  } catch (err) {
    await close();
    throw err;
  }
  return { sim, bus, ingest, rec, close };
}

/** startHarness for one vitest test: closed when the test finishes, whatever its outcome. */
export async function testHarness(...args: Parameters<typeof startHarness>): Promise<Harness> {
  const h = await startHarness(...args);
  onTestFinished(() => h.close());
  return h;
}

/**
 * Pause the market, wait for the wire to go quiet, and require the consumer-rebuilt book and the
 * collector's own book to equal the simulator's best `depth` levels per side exactly.
 */
export async function checkpoint(h: Harness, venue: VenueId, symbols: readonly string[], depth: number, timeoutMs = 4000): Promise<void> {
  const { sim, ingest, rec } = h;
  sim.market.pause();
  try {
    for (const symbol of symbols) {
      // Inverse instruments are simulated in quote (USD) sizes; the collector holds base = USD / price.
      const inverse = marketInfo(venue, symbol).inverse;
      const unit = (lv: Level[]): Level[] => (inverse ? lv.map(([p, q]) => [p, toBase(q, 1, true, p)]) : lv);
      const want = () => {
        const b = sim.market.book(venue, symbol);
        return JSON.stringify({ bids: unit(b.bids.slice(0, depth)), asks: unit(b.asks.slice(0, depth)) });
      };
      const own = () => {
        const b = ingest.book(venue, symbol);
        return b && JSON.stringify({ bids: b.bids.slice(0, depth), asks: b.asks.slice(0, depth) });
      };
      await waitFor(`${venue} ${symbol} book to match the sim`, () => JSON.stringify(rec.top(venue, symbol, depth)) === want() && own() === want(), timeoutMs);
    }
  } finally {
    sim.market.resume();
  }
}

/**
 * The venue-independent fault drill, with a checkpoint after each fault: a malformed and a truncated
 * frame on the book stream `bookMatch` (each a counted parse error that rebuilds exactly one book),
 * a stalled feed (a book goes stale, then every symbol is fresh again), and a disconnect of every
 * socket (reconnect, each symbol counts one reconnect and resyncs).
 */
export async function commonFaultDrill(h: Harness, venue: VenueId, symbols: readonly string[], depth: number, bookMatch: string): Promise<void> {
  const f = h.sim.faults(venue);
  const session = h.ingest.sessions.get(venue)!;
  const feeds = symbols.map((s) => session.feeds.get(s)!);
  const resyncs = () => feeds.reduce((n, x) => n + x.stats.resyncs, 0);
  const synced = () => h.ingest.health().ready;
  for (const fault of [f.malformedFrame, f.truncatedFrame]) {
    const errors = session.counters.parseErrors;
    const before = resyncs();
    fault(bookMatch);
    await waitFor('parse error counted', () => session.counters.parseErrors === errors + 1);
    await waitFor('resynced after bad frame', synced);
    if (resyncs() - before !== 1) throw new Error(`bad frame resynced ${resyncs() - before} books, expected 1`);
    await checkpoint(h, venue, symbols, depth);
  }
  f.stall(900);
  await waitFor('stale status', () => feeds.some((x) => x.state === 'stale'));
  await waitFor('fresh again', () => feeds.every((x) => x.state === 'synced'), 3000);
  await checkpoint(h, venue, symbols, depth);
  const opens = session.connections.map((c) => c.opens);
  const reconnects = feeds.map((x) => x.stats.reconnects);
  f.disconnectAll();
  await waitFor('reconnected', () => session.connections.every((c, i) => c.opens > opens[i] && c.open));
  await waitFor('resynced after reconnect', synced);
  if (!feeds.every((x, i) => x.stats.reconnects === reconnects[i] + 1)) throw new Error('not every symbol counted its reconnect');
  await checkpoint(h, venue, symbols, depth);
}
