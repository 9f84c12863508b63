import { basename } from 'node:path';
import type { Bus, Level, VenueId } from '@depthwatch/schemas';
import { logger } from '@depthwatch/ops';
import type { VenueAdapter } from '../sync/adapter.ts';
import { VenueSession, type RawRecord, type RestPurpose, type VenueConfig } from '../sync/venue-session.ts';
import { adapterFor } from '../venues/index.ts';
import { FORMAT, FORMAT_VERSION, type FileRecord } from '../record/format.ts';
import { readRecordings, type ReadWarning } from './reader.ts';
import { CRYPTOFEED_FILE, cryptofeedGroups, importCryptofeed } from './cryptofeed.ts';
import { GateBus, SymbolFilterBus } from './buses.ts';

/**
 * Deterministic replay of raw recordings through the SAME venue adapters and book-sync code as
 * live (VenueSession → SymbolFeed → BookSync), without sockets:
 *   - WebSocket frames are fed in recorded order on their recorded connection, with the recorded
 *     receive time as recvTs; opens, downs and housekeeping ticks happen where they were recorded;
 *   - a REST request the session makes (book snapshot or polled channel) is answered with the
 *     recorded response (or fetch error) at the recorded position; polls are issued from recorded
 *     ticks and answers, so they are asked for before their recorded answer comes;
 *   - the sessions' clock is the replay clock (the time of the record being handled), so status
 *     times, staleness and the periodic snapshots come out as they did live; snapshot-retry timers
 *     run on it too (they fire before the next record: a retry only issues a request, and the
 *     answer is still applied where it was recorded);
 *   - at speed 'max' nothing reads the wall clock: two replays of one recording publish the same
 *     md.* events, and what they publish equals what was published live while recording.
 * Recordings without tick records (imports) get ticks every tickMs on the replay clock.
 */

export type ReplaySpeed = 1 | 10 | 'max' | number;

export interface ReplayOptions {
  bus: Bus;
  /** Multiple of recorded time (1 = as recorded), or 'max' (default): as fast as possible, no wall clock. */
  speed?: ReplaySpeed;
  /** Epoch ms: output starts here (earlier records are replayed at max speed and held back, see GateBus). */
  from?: number;
  /** Epoch ms: stop after the last record at or before it. */
  to?: number;
  venues?: readonly VenueId[];
  /** Only these symbols' md.* events are published (sessions still run every recorded symbol). */
  symbols?: readonly string[];
  /** Adapter overrides by venue (default: the registry). */
  adapters?: Partial<Record<string, VenueAdapter>>;
  /** Replay run id: recorded on the result and passed to the ClickHouse sink by runReplay. */
  runId?: string;
  onWarning?: (message: string) => void;
  /** Tick period when the recording has no tick records (default: the session's tickMs, else 1000). */
  tickMs?: number;
}

export interface ReplayResult {
  runId: string | null;
  sessions: ReadonlyMap<VenueId, VenueSession>;
  records: number;
  frames: number;
  restResponses: number;
  firstTs: number | null;
  lastTs: number | null;
  warnings: string[];
  /** A file ended mid-record (truncated gzip or last line). */
  truncated: boolean;
  /** Records the recorder reported as dropped (drop markers): output after them may differ from live. */
  recorderDrops: number;
  /** REST snapshot requests that no recorded response answered. */
  unansweredRequests: number;
  /** Poll requests still waiting at the end (normal: a poll in flight when the recording stopped). */
  unansweredPolls: number;
  /** With `from`: events held back before it, and state events (status, book snapshot, ticker per stream) published when it was reached. */
  heldBack: number;
  stateEvents: number;
  book(venue: VenueId, symbol: string): { bids: Level[]; asks: Level[] } | null;
}

interface Waiter {
  purpose: RestPurpose;
  resolve(body: string): void;
  reject(err: Error): void;
}

interface VenueState {
  venue: VenueId;
  session: VenueSession;
  synthTicks: boolean;
  tickMs: number;
  nextTick: number;
  waiting: Map<string, Waiter[]>;
  parked: Map<string, { ok: boolean; text: string }[]>;
  parkedWarned: boolean;
}

/**
 * REST answers are matched to requests by URL, ignoring numeric query values (`limit`), so
 * imported recordings whose snapshot depth differs from ours still match (Binance spot: 1000 vs 5000).
 */
export function restKey(url: string): string {
  try {
    const u = new URL(url);
    const params = [...u.searchParams].filter(([, v]) => !/^\d+$/.test(v)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `${u.origin}${u.pathname}?${params.map(([k, v]) => `${k}=${v}`).join('&')}`;
  } catch {
    return url;
  }
}

function sanitizeConfig(c: VenueConfig): VenueConfig {
  // JSON turns Infinity into null (staleAfterMs for quiet channels).
  if (!c.staleAfterMs) return c;
  const stale = Object.fromEntries(Object.entries(c.staleAfterMs).map(([k, v]) => [k, v === null ? Infinity : v]));
  return { ...c, staleAfterMs: stale };
}

class Replayer {
  private readonly log = logger('replay');
  private readonly states = new Map<VenueId, VenueState>();
  private now = 0;
  private timers: { fn: () => void; live: boolean }[] = [];
  private readonly bus: Bus;
  private readonly gate: GateBus | null;
  private readonly venues: ReadonlySet<string> | null;
  private readonly speed: number | 'max';
  private wall0: number | null = null;
  private ts0 = 0;
  readonly result: Omit<ReplayResult, 'book' | 'sessions' | 'unansweredRequests' | 'unansweredPolls' | 'heldBack' | 'stateEvents'> = {
    runId: null,
    records: 0,
    frames: 0,
    restResponses: 0,
    firstTs: null,
    lastTs: null,
    warnings: [],
    truncated: false,
    recorderDrops: 0,
  };

  constructor(private readonly o: ReplayOptions) {
    this.result.runId = o.runId ?? null;
    let bus = o.bus;
    if (o.symbols) bus = new SymbolFilterBus(bus, new Set(o.symbols));
    this.gate = o.from !== undefined ? new GateBus(bus) : null;
    this.bus = this.gate ?? bus;
    this.venues = o.venues ? new Set(o.venues) : null;
    const speed = o.speed ?? 'max';
    if (speed !== 'max' && !(typeof speed === 'number' && speed > 0)) throw new Error(`replay speed must be a positive number or 'max', got ${String(speed)}`);
    this.speed = speed;
  }

  warn(message: string): void {
    this.result.warnings.push(message);
    this.log.warn(message);
    this.o.onWarning?.(message);
  }

  onReadWarning = (w: ReadWarning): void => {
    if (w.kind === 'truncated_gzip' || w.kind === 'truncated_line') this.result.truncated = true;
    this.warn(`${basename(w.file)}:${w.line}: ${w.message}`);
  };

  async run(source: AsyncIterable<FileRecord> | Iterable<FileRecord>): Promise<void> {
    for await (const rec of source) {
      if (rec.kind === 'file') {
        if (rec.format !== FORMAT || rec.version > FORMAT_VERSION) this.warn(`unsupported recording format ${rec.format} v${rec.version}; trying anyway`);
        continue;
      }
      if (rec.kind === 'drop') {
        this.result.recorderDrops += rec.count;
        this.warn(`the recorder dropped ${rec.count} records here (queue full): output after ${new Date(rec.ts).toISOString()} may differ from live`);
        continue;
      }
      if (this.venues && !this.venues.has(rec.venue)) continue;
      if (this.o.to !== undefined && rec.ts > this.o.to) break;
      this.advanceTicks(rec.ts);
      if (this.gate && !this.gate.isOpen && rec.ts >= this.o.from!) {
        this.gate.open();
        this.wall0 = null;
      }
      if (this.speed !== 'max' && (!this.gate || this.gate.isOpen)) await this.pace(rec.ts);
      this.result.records++;
      this.result.firstTs ??= rec.ts;
      this.result.lastTs = rec.ts;
      this.now = rec.ts;
      await this.apply(rec);
      this.runTimers();
    }
    if (this.gate && !this.gate.isOpen) this.gate.open();
    await new Promise<void>((r) => setImmediate(r));
  }

  private async pace(ts: number): Promise<void> {
    if (this.wall0 === null) {
      this.wall0 = Date.now();
      this.ts0 = ts;
      return;
    }
    const wait = this.wall0 + (ts - this.ts0) / (this.speed as number) - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }

  private async apply(rec: RawRecord): Promise<void> {
    if (rec.kind === 'session') {
      this.ensureSession(rec.venue, rec.config, rec.ticks, rec.ts);
      return;
    }
    const st = this.states.get(rec.venue);
    if (!st) {
      this.warn(`${rec.kind} record for ${rec.venue} before its session record: skipped`);
      return;
    }
    switch (rec.kind) {
      case 'open':
        st.session.replayOpen(rec.conn < 0 ? undefined : rec.conn, rec.reconnect);
        return;
      case 'ws':
        this.result.frames++;
        st.session.replayFrame(rec.text, rec.ts, rec.conn < 0 ? 0 : rec.conn);
        return;
      case 'down':
        st.session.replayDown(rec.conn, rec.reason);
        return;
      case 'tick':
        st.session.replayTick();
        return;
      case 'rest': {
        this.result.restResponses++;
        const key = restKey(rec.url);
        const w = st.waiting.get(key)?.shift();
        if (!w) {
          // Not (yet) asked for: imported recordings, or a request the live run made before this replay's start.
          const list = st.parked.get(key) ?? [];
          list.push({ ok: rec.ok, text: rec.text });
          st.parked.set(key, list);
          return;
        }
        if (rec.ok) w.resolve(rec.text);
        else w.reject(new Error(rec.text));
        // Let the session's continuation (parse, bridge, publish) run now, at this record's time.
        await new Promise<void>((r) => setImmediate(r));
        return;
      }
    }
  }

  private ensureSession(venue: VenueId, config: VenueConfig, ticks: boolean, ts: number): void {
    const existing = this.states.get(venue);
    if (existing) return; // repeated at the top of every rotated file
    const adapter = this.o.adapters?.[venue] ?? adapterFor(venue);
    const st = { venue, synthTicks: !ticks, waiting: new Map(), parked: new Map(), parkedWarned: false } as Omit<VenueState, 'session' | 'tickMs' | 'nextTick'> as VenueState;
    const cfg: VenueConfig = {
      ...sanitizeConfig(config),
      // Recorded before polled channels existed (or imported): the live run made no polls, so neither does the replay.
      polls: config.polls ?? false,
      venue,
      recorder: undefined,
      setTimer: (fn) => {
        const t = { fn, live: true };
        this.timers.push(t);
        return () => (t.live = false);
      },
      fetchText: (url, purpose = 'snapshot') =>
        new Promise<string>((resolve, reject) => {
          const key = restKey(url);
          const parked = st.parked.get(key)?.shift();
          if (parked) {
            if (!st.parkedWarned) {
              st.parkedWarned = true;
              this.warn(`${venue}: a recorded REST answer was applied when requested, not where it was recorded (imported recording?)`);
            }
            if (parked.ok) resolve(parked.text);
            else reject(new Error(parked.text));
            return;
          }
          const list = st.waiting.get(key) ?? [];
          list.push({ purpose, resolve, reject });
          st.waiting.set(key, list);
        }),
    };
    st.session = new VenueSession(adapter, cfg, this.bus, () => this.now);
    st.session.replayStart();
    st.tickMs = this.o.tickMs ?? config.tickMs ?? 1000;
    st.nextTick = ts + st.tickMs;
    this.states.set(venue, st);
  }

  /** Synthetic housekeeping ticks (recordings without tick records), on the replay clock. */
  private advanceTicks(ts: number): void {
    for (const st of this.states.values()) {
      if (!st.synthTicks) continue;
      // A long quiet stretch (or the next recording of a multi-venue import): nothing changes between
      // records, so the last due tick stands for all of them.
      if (ts - st.nextTick > 1000 * st.tickMs) st.nextTick += Math.floor((ts - st.nextTick) / st.tickMs) * st.tickMs;
      while (st.nextTick <= ts) {
        this.now = st.nextTick;
        st.session.replayTick();
        this.runTimers();
        st.nextTick += st.tickMs;
      }
    }
  }

  /** Snapshot-retry timers fire before the next record (they only issue requests). */
  private runTimers(): void {
    for (let guard = 0; this.timers.length > 0 && guard < 1000; guard++) {
      const batch = this.timers;
      this.timers = [];
      for (const t of batch) if (t.live) t.fn();
    }
  }

  async finish(): Promise<ReplayResult> {
    let unanswered = 0;
    let unansweredPolls = 0;
    for (const st of this.states.values()) {
      for (const l of st.waiting.values()) for (const w of l) w.purpose === 'poll' ? unansweredPolls++ : unanswered++;
      await st.session.close();
    }
    const sessions = new Map([...this.states].map(([v, s]) => [v, s.session]));
    return {
      ...this.result,
      sessions,
      unansweredRequests: unanswered,
      unansweredPolls,
      heldBack: this.gate?.held ?? 0,
      stateEvents: this.gate?.stateEvents ?? 0,
      book: (venue, symbol) => sessions.get(venue)?.feeds.get(symbol)?.book() ?? null,
    };
  }
}

/** Replays records (already read, or any async source) into `opts.bus`. */
export async function replayRecords(source: AsyncIterable<FileRecord> | Iterable<FileRecord>, opts: ReplayOptions): Promise<ReplayResult> {
  const r = new Replayer(opts);
  await r.run(source);
  return r.finish();
}

/**
 * Replays recording files in the order given (depthwatch `*.ndjson.gz` / `*.ndjson`), or a set of
 * cryptofeed files (`BINANCE_FUTURES.0`, `.http.0.0`, `.ws.1.0`: each exchange named is imported
 * whole from its directory; several exchanges replay one after the other).
 */
export async function replayFiles(files: readonly string[], opts: ReplayOptions): Promise<ReplayResult> {
  if (files.length === 0) throw new Error('replay: no files');
  const cf = files.filter((f) => CRYPTOFEED_FILE.test(basename(f)));
  if (cf.length > 0 && cf.length !== files.length) throw new Error('replay: cryptofeed files and depthwatch recordings cannot be mixed in one replay');
  const r = new Replayer(opts);
  if (cf.length > 0) {
    for (const g of cryptofeedGroups(cf)) await r.run(importCryptofeed(g.dir, g.exchange).records);
  } else {
    await r.run(readRecordings(files, { onWarning: r.onReadWarning }));
  }
  return r.finish();
}
