import type { Bus, VenueId } from '@depthwatch/schemas';
import { logger, type Logger } from '@depthwatch/ops';
import { CHANNELS, VenueParseError, type Channel, type ParseContext, type StreamSpec, type VenueAdapter, type VenueMessage } from './adapter.ts';
import { Backoff, RollingMedian } from './backoff.ts';
import type { ResyncReason } from './book-sync.ts';
import { ManagedConnection } from './connection.ts';
import { ConnectionStatus } from './connection-status.ts';
import { RestPoller, type RestAnswer } from './rest-poller.ts';
import { ingestMetrics as M } from './metrics.ts';
import { SymbolFeed } from './symbol-feed.ts';
import { assertWellFormed } from './well-formed.ts';
import { marketInfo, type MarketInfo } from '../metadata/index.ts';

/**
 * One venue's collector: plans sockets from the adapter's streams (grouped by route, batched under
 * the venue's per-connection limit), runs them, routes parsed messages to per-symbol feeds, fetches
 * REST snapshots with bounded backoff, and runs the housekeeping tick. Venue specifics stay in the
 * adapter; everything here is shared by every venue.
 */
export interface VenueConfig {
  venue: VenueId;
  symbols?: readonly string[];
  restUrl?: string;
  wsUrl?: string;
  /** Verify venue checksums (default true). Off: mismatches are still counted, the book is kept. */
  checksum?: boolean;
  /** Channels to subscribe (default: every channel the adapter offers). */
  channels?: readonly Channel[];
  /** Full book snapshot cadence so a restarted consumer can rebuild (default 60 s). */
  snapshotIntervalMs?: number;
  staleAfterMs?: Partial<Record<Channel, number>>;
  reconnect?: { baseMs: number; maxMs: number };
  snapshotRetry?: { baseMs: number; maxMs: number; failuresBeforeDown: number };
  /** Housekeeping tick (staleness, keepalive, periodic snapshots); default 1000 ms. */
  tickMs?: number;
  /** Max parallel REST snapshot requests per venue (rate limits are per IP). */
  snapshotConcurrency?: number;
  /** Run the adapter's polled REST channels (adapter.polls, e.g. Binance USD-M open interest); default true. */
  polls?: boolean;
  /** Poll period overrides by poll name (`{ open_interest: 30000 }`); default: the adapter's. */
  pollIntervalMs?: Partial<Record<string, number>>;
  /** Max parallel poll requests per venue, in addition to snapshotConcurrency (default 1): book snapshots never wait for polls. */
  pollConcurrency?: number;
  /** REST GET returning the body (default: global fetch, 10 s timeout, non-2xx is an error). Replays and tests inject one. */
  fetchText?: (url: string, purpose?: RestPurpose) => Promise<string>;
  /** Raw traffic tap (ingest/src/record): every input that can change what the session publishes, in processing order. */
  recorder?: RawTap;
  /** One-shot timer for snapshot retries; returns a cancel function (default: unref'd setTimeout). Replays run it on the replay clock. */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

/**
 * What a recorder receives, synchronously and in processing order: the session's configuration, connection
 * opens and downs, every received WebSocket frame and REST response (book snapshots and polls; or fetch error) with the exact
 * text, and the housekeeping ticks. Everything the session publishes while handling one input carries that
 * input's `ts` (see `clock`), so feeding the same records back (replay/) reproduces the same events.
 * The tap must be cheap and must not throw (the recorder only queues).
 */
export type RecordedVenueConfig = Omit<VenueConfig, 'fetchText' | 'recorder' | 'setTimer'>;
/** Why the session asks for a REST answer: a book snapshot or a polled channel. */
export type RestPurpose = 'snapshot' | 'poll';
export type RawRecord =
  | { kind: 'session'; venue: VenueId; ts: number; config: RecordedVenueConfig; ticks: boolean }
  | { kind: 'open'; venue: VenueId; ts: number; conn: number; route: string; url: string; reconnect: boolean }
  | { kind: 'ws'; venue: VenueId; ts: number; conn: number; route: string; text: string }
  | { kind: 'rest'; venue: VenueId; ts: number; url: string; ok: boolean; text: string }
  | { kind: 'down'; venue: VenueId; ts: number; conn: number; route: string; reason: string }
  | { kind: 'tick'; venue: VenueId; ts: number };
export type RawTap = (record: RawRecord) => void;

function unrefTimer(fn: () => void, ms: number): () => void {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
}

async function httpGet(url: string, _purpose?: RestPurpose): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.slice(0, 120)}`);
  return body;
}

interface Conn {
  id: number;
  route: string;
  url: string;
  streams: StreamSpec[];
  socket: ManagedConnection;
  connSeq: number | null;
}

export class VenueSession {
  readonly venue: VenueId;
  readonly feeds = new Map<string, SymbolFeed>();
  private readonly bySymbolVenue = new Map<string, string>();
  private readonly conns: Conn[] = [];
  private readonly log: Logger;
  private readonly ctx: ParseContext;
  private readonly markets = new Map<string, MarketInfo>();
  private readonly restBase: string;
  private readonly wsBase: string;
  private readonly offset = new RollingMedian(256);
  private timer: NodeJS.Timeout | null = null;
  private readonly inflight = new Set<string>();
  private readonly queue: string[] = [];
  private readonly again = new Map<string, ResyncReason>();
  private readonly retries = new Map<string, { backoff: Backoff; failures: number; timer: (() => void) | null }>();
  private readonly setTimer: (fn: () => void, ms: number) => () => void;
  /** Receive time of the input being handled (frame, REST answer, open, down, tick); null between inputs. */
  private pinned: number | null = null;
  /** The feeds' clock: the current input's receive time, so a replay of the same inputs publishes the same times. */
  private readonly clock = (): number => this.pinned ?? this.now();
  private closed = false;
  private lastParseLog = 0;
  private suppressedParseLogs = 0;
  readonly counters = { messages: 0, parseErrors: 0, snapshotRequests: 0, snapshotFailures: 0 };
  /** Connection-level status (md.status symbol '*'). */
  readonly status: ConnectionStatus;
  readonly poller: RestPoller;
  private readonly pollsOn: boolean;
  private readonly cfg: Required<Pick<VenueConfig, 'snapshotIntervalMs' | 'tickMs' | 'snapshotConcurrency'>> & {
    reconnect: { baseMs: number; maxMs: number };
    snapshotRetry: { baseMs: number; maxMs: number; failuresBeforeDown: number };
  };

  constructor(
    private readonly adapter: VenueAdapter,
    private readonly config: VenueConfig,
    private readonly bus: Bus,
    private readonly now: () => number = Date.now,
  ) {
    this.venue = adapter.venue;
    this.log = logger('ingest', { venue: this.venue });
    this.restBase = config.restUrl ?? adapter.defaultUrls.rest;
    this.wsBase = config.wsUrl ?? adapter.defaultUrls.ws;
    this.setTimer = config.setTimer ?? unrefTimer;
    this.cfg = {
      snapshotIntervalMs: config.snapshotIntervalMs ?? 60_000,
      tickMs: config.tickMs ?? 1000,
      snapshotConcurrency: config.snapshotConcurrency ?? 2,
      reconnect: config.reconnect ?? { baseMs: 500, maxMs: 30_000 },
      snapshotRetry: config.snapshotRetry ?? { baseMs: 250, maxMs: 10_000, failuresBeforeDown: 5 },
    };
    this.ctx = {
      recvTs: 0,
      symbolOf: (vs) => this.bySymbolVenue.get(vs),
      market: (s) => this.markets.get(s) ?? marketInfo(this.venue, s),
    };
    if (adapter.sync.bootstrap === 'rest' && !adapter.restSnapshot) throw new Error(`${this.venue}: rest bootstrap without restSnapshot`);

    const symbols = config.symbols ?? adapter.defaultSymbols;
    const pollTargets: { symbol: string; venueSymbol: string }[] = [];
    const wanted = new Set<Channel>(config.channels ?? CHANNELS);
    const staleAfterMs = { ...adapter.staleAfterMs, ...config.staleAfterMs };
    const streams: StreamSpec[] = [];
    for (const symbol of symbols) {
      const venueSymbol = adapter.toVenueSymbol(symbol);
      this.bySymbolVenue.set(venueSymbol, symbol);
      this.markets.set(symbol, marketInfo(this.venue, symbol, venueSymbol));
      const own = adapter.streams(symbol, venueSymbol).filter((s) => wanted.has(s.channel));
      streams.push(...own);
      // Polled channels feed the ticker: only for symbols whose ticker is wanted.
      if (own.some((s) => s.channel === 'ticker')) pollTargets.push({ symbol, venueSymbol });
      const market = this.markets.get(symbol)!;
      const checksum = adapter.checksum;
      this.feeds.set(
        symbol,
        new SymbolFeed({
          venue: this.venue,
          symbol,
          bus,
          rules: adapter.sync,
          channels: new Set(own.map((s) => s.channel)),
          staleAfterMs,
          snapshotIntervalMs: this.cfg.snapshotIntervalMs,
          checksum: checksum ? (book, msg) => checksum(book, msg, market) : undefined,
          enforceChecksum: config.checksum !== false,
          now: this.clock,
          requestSnapshot: (reason) => this.requestSnapshot(symbol, reason),
          lagSample: (ms) => this.offset.push(ms),
        }),
      );
    }
    this.plan(streams);
    this.status = new ConnectionStatus({
      venue: this.venue,
      bus,
      routes: this.conns.map((c) => c.route),
      now: this.clock,
      totals: () => {
        const t = { resyncs: 0, gaps: 0, checksumFailures: 0 };
        for (const f of this.feeds.values()) {
          t.resyncs += f.stats.resyncs;
          t.gaps += f.stats.gaps;
          t.checksumFailures += f.stats.checksumFailures;
        }
        return t;
      },
      lagMs: () => this.offset.value,
    });
    this.pollsOn = config.polls !== false;
    this.poller = new RestPoller({
      venue: this.venue,
      polls: this.pollsOn ? (adapter.polls ?? []) : [],
      targets: pollTargets,
      restBase: this.restBase,
      intervalMs: config.pollIntervalMs,
      concurrency: config.pollConcurrency ?? 1,
      ctx: this.ctx,
      log: this.log,
      get: (url, answer) => {
        this.restGet(url, 'poll', answer).catch((err: Error) => this.log.error({ err: err.message, url }, 'poll answer handling failed'));
      },
      deliver: (symbol, msg, recvTs) => this.feeds.get(symbol)?.onPolledTicker(msg, recvTs),
      expire: (symbol, fields) => this.feeds.get(symbol)?.expireTicker(fields),
    });
  }

  /** Streams grouped by route, then chunked under the venue's per-connection limit. */
  private plan(streams: StreamSpec[]): void {
    const byRoute = new Map<string, StreamSpec[]>();
    for (const s of streams) byRoute.set(s.route, [...(byRoute.get(s.route) ?? []), s]);
    for (const [route, list] of byRoute) {
      for (let i = 0; i < list.length; i += this.adapter.maxStreamsPerConnection) {
        const chunk = list.slice(i, i + this.adapter.maxStreamsPerConnection);
        const id = this.conns.length;
        const url = this.adapter.connectUrl(this.wsBase, route, chunk);
        const conn: Conn = { id, route, url, streams: chunk, connSeq: null, socket: null as unknown as ManagedConnection };
        conn.socket = new ManagedConnection({
          url,
          heartbeat: this.adapter.heartbeat,
          reconnect: this.cfg.reconnect,
          tickMs: this.cfg.tickMs,
          log: this.log.child({ conn: id, route }),
          now: this.now,
          onOpen: () => this.onOpen(conn),
          onMessage: (text, recvTs, bytes) => this.onMessage(conn, text, recvTs, bytes),
          onDown: (reason) => this.onDown(conn, reason),
        });
        this.conns.push(conn);
      }
    }
  }

  start(): void {
    const ts = this.now();
    if (this.config.recorder) {
      const { fetchText: _f, recorder: _r, setTimer: _t, ...config } = this.config;
      // `polls` explicitly: a recording made before polls existed has none, and its replay must not poll.
      this.config.recorder({ kind: 'session', venue: this.venue, ts, config: { ...config, symbols: [...this.feeds.keys()], polls: this.pollsOn }, ticks: true });
    }
    this.at(ts, () => this.status.start());
    for (const c of this.conns) c.socket.start();
    this.timer = setInterval(() => this.tick(), this.cfg.tickMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const r of this.retries.values()) r.timer?.();
    await Promise.all(this.conns.map((c) => c.socket.close()));
  }

  get connections(): readonly { route: string; streams: readonly StreamSpec[]; open: boolean; opens: number }[] {
    return this.conns.map((c) => ({ route: c.route, streams: c.streams, open: c.socket.isOpen, opens: c.socket.opens }));
  }

  /** Replay hook: the session record (what start() does before opening sockets). */
  replayStart(): void {
    this.at(this.now(), () => this.status.start());
  }

  /** Replay hook (no sockets): behave as if planned connection `conn` (default: every one) just opened. */
  replayOpen(conn?: number, reconnect = false): void {
    for (const c of this.conns) if (conn === undefined || c.id === conn) this.onOpen(c, reconnect);
  }

  /** Replay hook: one received frame on connection `conn` (default: the first). */
  replayFrame(text: string, recvTs: number, conn = 0): void {
    this.onMessage(this.conns[conn] ?? this.conns[0], text, recvTs, Buffer.byteLength(text));
  }

  /** Replay hook: connection `conn` went down. */
  replayDown(conn: number, reason: string): void {
    const c = this.conns[conn];
    if (c) this.onDown(c, reason);
  }

  /** Replay hook: one housekeeping tick at the session clock. */
  replayTick(): void {
    this.tick();
  }

  /** Runs one input's handling with the feeds' clock pinned to its receive time. */
  private at(ts: number, fn: () => void): void {
    this.pinned = ts;
    try {
      fn();
    } finally {
      this.pinned = null;
    }
  }

  /** Test/ops hook: drop every socket now (they reconnect). */
  reconnectAll(reason: string): void {
    for (const c of this.conns) c.socket.reconnectNow(reason);
  }

  // ---- socket events

  private channelsOn(conn: Conn): Map<string, Channel[]> {
    const out = new Map<string, Channel[]>();
    for (const s of conn.streams) out.set(s.symbol, [...(out.get(s.symbol) ?? []), s.channel]);
    return out;
  }

  private onOpen(conn: Conn, reconnect = conn.socket.opens > 1): void {
    const ts = this.now();
    this.config.recorder?.({ kind: 'open', venue: this.venue, ts, conn: conn.id, route: conn.route, url: conn.url, reconnect });
    this.at(ts, () => {
      conn.connSeq = null;
      M.connections.inc({ venue: this.venue });
      if (reconnect) M.reconnects.inc({ venue: this.venue });
      for (const text of this.adapter.onOpen(conn.route, conn.streams)) conn.socket.send(text);
      for (const [symbol, channels] of this.channelsOn(conn)) this.feeds.get(symbol)!.streamUp(channels, reconnect);
      this.status.opened(conn.id, reconnect);
      this.log.info({ conn: conn.id, streams: conn.streams.length, reconnect }, 'connected');
    });
  }

  private onDown(conn: Conn, reason: string): void {
    if (this.closed) return;
    const ts = this.now();
    this.config.recorder?.({ kind: 'down', venue: this.venue, ts, conn: conn.id, route: conn.route, reason });
    this.at(ts, () => {
      M.connections.dec({ venue: this.venue });
      this.log.warn({ conn: conn.id, reason }, 'connection down');
      for (const [symbol, channels] of this.channelsOn(conn)) this.feeds.get(symbol)!.streamDown(channels, `disconnected: ${reason}`);
      this.status.down(conn.id, reason);
    });
  }

  private onMessage(conn: Conn, text: string, recvTs: number, bytes: number): void {
    this.config.recorder?.({ kind: 'ws', venue: this.venue, ts: recvTs, conn: conn.id, route: conn.route, text });
    this.at(recvTs, () => this.handleMessage(conn, text, recvTs, bytes));
  }

  private handleMessage(conn: Conn, text: string, recvTs: number, bytes: number): void {
    this.counters.messages++;
    M.bytes.inc({ venue: this.venue }, bytes);
    this.ctx.recvTs = recvTs;
    let msgs: VenueMessage[];
    try {
      msgs = this.adapter.parse(text, this.ctx);
      // NaN, non-positive prices, negative sizes, impossible times: a parse error, never published.
      assertWellFormed(msgs);
    } catch (err) {
      this.onParseError(conn, text, err);
      return;
    }
    if (msgs.length === 0) M.messages.inc({ venue: this.venue, channel: 'other' });
    for (const m of msgs) this.dispatch(conn, m, recvTs);
  }

  private dispatch(conn: Conn, m: VenueMessage, recvTs: number): void {
    switch (m.kind) {
      case 'book_diff':
        M.messages.inc({ venue: this.venue, channel: 'book' });
        this.feeds.get(m.symbol)?.onDiff(m, recvTs);
        return;
      case 'book_snapshot':
        M.messages.inc({ venue: this.venue, channel: 'book' });
        this.feeds.get(m.symbol)?.onSnapshot(m, 'in-band', recvTs);
        return;
      case 'trade':
        M.messages.inc({ venue: this.venue, channel: 'trade' });
        this.feeds.get(m.symbol)?.onTrade(m, recvTs);
        return;
      case 'liquidation':
        M.messages.inc({ venue: this.venue, channel: 'liquidation' });
        this.feeds.get(m.symbol)?.onLiquidation(m, recvTs);
        return;
      case 'ticker':
        M.messages.inc({ venue: this.venue, channel: 'ticker' });
        this.feeds.get(m.symbol)?.onTicker(m, recvTs);
        return;
      case 'reply':
        conn.socket.send(m.text);
        return;
      case 'conn_seq': {
        const prev = conn.connSeq;
        conn.connSeq = m.seq;
        if (prev !== null && m.seq !== prev + 1) {
          // Connection-wide sequence (Coinbase): every book on this socket is suspect.
          for (const s of conn.streams) if (s.channel === 'book') this.feeds.get(s.symbol)?.invalidate('gap', `connection seq ${prev} → ${m.seq}`);
        }
        return;
      }
      case 'control':
        M.messages.inc({ venue: this.venue, channel: 'other' });
        if (m.action === 'reconnect') conn.socket.reconnectNow(m.detail ?? 'venue asked');
        return;
      case 'error':
        this.log.warn({ symbol: m.symbol, channel: m.channel, reason: m.reason }, 'venue error');
        if (m.symbol && (m.channel === 'book' || m.channel === null)) this.feeds.get(m.symbol)?.invalidate('venue_error', m.reason);
        return;
    }
  }

  /**
   * A frame we could not parse or apply: count it, log (rate limited), and rebuild the book it
   * belonged to. When we cannot tell which symbol it was about, every book on the socket is rebuilt:
   * never silently wrong.
   */
  private onParseError(conn: Conn, text: string, err: unknown): void {
    this.counters.parseErrors++;
    let symbol: string | null = err instanceof VenueParseError ? err.symbol : null;
    let channel: Channel | null = err instanceof VenueParseError ? err.channel : null;
    if (!symbol || !channel) {
      const guess = this.adapter.identify(text);
      if (guess) {
        symbol ??= this.bySymbolVenue.get(guess.venueSymbol) ?? null;
        channel ??= guess.channel;
      }
    }
    M.parseErrors.inc({ venue: this.venue, channel: channel ?? 'unknown' });
    const now = this.now();
    if (now - this.lastParseLog > 10_000) {
      this.log.warn({ err: (err as Error).message, symbol, channel, sample: text.slice(0, 200), suppressed: this.suppressedParseLogs }, 'unparseable venue message');
      this.lastParseLog = now;
      this.suppressedParseLogs = 0;
    } else this.suppressedParseLogs++;
    const detail = (err as Error).message;
    if (symbol && channel === 'book') this.feeds.get(symbol)?.invalidate('parse_error', detail);
    else if (!symbol || !channel) {
      for (const s of conn.streams) if (s.channel === 'book') this.feeds.get(s.symbol)?.invalidate('parse_error', detail);
    }
  }

  // ---- snapshots

  private requestSnapshot(symbol: string, reason: ResyncReason): void {
    if (this.closed) return;
    if (this.adapter.sync.bootstrap === 'rest') {
      if (this.inflight.has(symbol)) {
        // Asked while the previous answer is being applied (it was too old): ask again once it settles.
        this.again.set(symbol, reason);
        return;
      }
      if (this.queue.includes(symbol) || this.retries.get(symbol)?.timer) return;
      if (reason === 'snapshot_too_old') {
        // The venue's snapshot lagged its stream: ask again, but back off so a lagging cache is not hammered.
        const r = this.retryState(symbol);
        r.timer = this.setTimer(() => {
          r.timer = null;
          if (this.feeds.get(symbol)!.sync.state === 'awaiting') this.requestSnapshot(symbol, 'initial');
        }, r.backoff.next());
        return;
      }
      this.queue.push(symbol);
      this.pump();
      return;
    }
    // In-band venues: resubscribe the book stream to get a fresh snapshot (or reconnect if the venue cannot).
    for (const c of this.conns) {
      const s = c.streams.find((x) => x.symbol === symbol && x.channel === 'book');
      if (!s) continue;
      if (this.adapter.resubscribe) for (const text of this.adapter.resubscribe(s)) c.socket.send(text);
      else c.socket.reconnectNow(`resync ${symbol}: ${reason}`);
    }
  }

  private pump(): void {
    while (!this.closed && this.inflight.size < this.cfg.snapshotConcurrency && this.queue.length > 0) {
      const symbol = this.queue.shift()!;
      this.inflight.add(symbol);
      void this.fetchSnapshot(symbol).finally(() => {
        this.inflight.delete(symbol);
        const again = this.again.get(symbol);
        this.again.delete(symbol);
        if (again && this.feeds.get(symbol)!.sync.state === 'awaiting') this.requestSnapshot(symbol, again);
        this.pump();
      });
    }
  }

  private fetchSnapshot(symbol: string): Promise<void> {
    const feed = this.feeds.get(symbol)!;
    const rest = this.adapter.restSnapshot!;
    const url = rest.url(this.restBase, this.adapter.toVenueSymbol(symbol));
    this.counters.snapshotRequests++;
    return this.restGet(url, 'snapshot', (a, recvTs) => {
      try {
        if (!a.ok) throw new Error(a.text);
        const snap = rest.parse(a.text, symbol, { ...this.ctx, recvTs });
        assertWellFormed([snap]);
        this.retries.delete(symbol);
        if (feed.sync.state === 'awaiting') feed.onSnapshot(snap, 'rest', recvTs);
      } catch (err) {
        this.counters.snapshotFailures++;
        M.snapshotFailures.inc({ venue: this.venue });
        const r = this.retryState(symbol);
        r.failures++;
        feed.snapshotFailed(r.failures, (err as Error).message, this.cfg.snapshotRetry.failuresBeforeDown);
        if (r.failures === 1 || r.failures === this.cfg.snapshotRetry.failuresBeforeDown) {
          this.log.warn({ symbol, url, failures: r.failures, err: (err as Error).message }, 'snapshot request failed');
        }
        r.timer = this.setTimer(() => {
          r.timer = null;
          if (feed.sync.state === 'awaiting') this.requestSnapshot(symbol, 'initial');
        }, r.backoff.next());
      }
    });
  }

  /**
   * One REST GET as a session input: the answer (or fetch error) is recorded with its receive time
   * and handled with the clock pinned to it, exactly like a received frame; nothing after close.
   */
  private async restGet(url: string, purpose: RestPurpose, handle: (a: RestAnswer, recvTs: number) => void): Promise<void> {
    let answer: RestAnswer;
    try {
      answer = { ok: true, text: await (this.config.fetchText ?? httpGet)(url, purpose) };
    } catch (err) {
      answer = { ok: false, text: (err as Error).message };
    }
    if (this.closed) return;
    const recvTs = this.now();
    this.config.recorder?.({ kind: 'rest', venue: this.venue, ts: recvTs, url, ok: answer.ok, text: answer.text });
    this.at(recvTs, () => handle(answer, recvTs));
  }

  private retryState(symbol: string): { backoff: Backoff; failures: number; timer: (() => void) | null } {
    let r = this.retries.get(symbol);
    if (!r) {
      r = { backoff: new Backoff({ baseMs: this.cfg.snapshotRetry.baseMs, maxMs: this.cfg.snapshotRetry.maxMs }), failures: 0, timer: null };
      this.retries.set(symbol, r);
    }
    return r;
  }

  // ---- housekeeping

  private tick(): void {
    const now = this.now();
    this.config.recorder?.({ kind: 'tick', venue: this.venue, ts: now });
    this.at(now, () => {
      for (const f of this.feeds.values()) f.tick(now);
      this.poller.tick(now);
    });
    const off = this.offset.value;
    if (off !== null) M.clockOffset.set({ venue: this.venue }, off / 1000);
  }
}
