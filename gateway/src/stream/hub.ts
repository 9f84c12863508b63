import { hostname } from 'node:os';
import type { RawData, WebSocket } from 'ws';
import { L2Book } from '@depthwatch/engine/book/l2-book';
import type { Logger } from '@depthwatch/ops';
import { assetOf, serializeEvent, streamKey, type Alert, type AnyEvent, type AssetDepth, type BookEvent, type Bus, type DepthMetrics, type FeedStatus, type Liquidation, type Ticker, type Trade, type VenueId } from '@depthwatch/schemas';
import type { GatewayConfig } from '../config.ts';
import { gatewayMetrics as m } from '../metrics.ts';
import { ClientConn, foldPendingMetrics } from './client.ts';
import {
  CHANNELS,
  RequestError,
  filterMatches,
  parseRequest,
  sameScope,
  serializeBook,
  serializeError,
  serializeHello,
  serializePong,
  serializeSubscribed,
  serializeUnsubscribed,
  type Channel,
  type ErrorCode,
  type Filter,
} from './protocol.ts';

interface Latest<E> {
  event: E;
  buf: Buffer | null;
}

interface BookState {
  book: L2Book;
  venue: VenueId;
  symbol: string;
  asset: string;
  ts: number;
  seq: number;
  synced: boolean;
  /** Book events applied since the last flush pass (source-level coalescing). */
  events: number;
  t0: number;
}

interface Target {
  c: ClientConn;
  /** Largest book depth among the client's matching subscriptions. */
  depth: number;
}

/** One stream's matching clients, with a position index so one client's change is O(1) per stream. */
interface CachedMatch {
  channel: Channel;
  venue: string;
  symbol: string;
  asset: string;
  targets: Target[];
  index: Map<ClientConn, number>;
}

export const PROTOCOL_VERSION = 1;
const MATCH_CACHE_MAX = 50_000;

export interface ClientStats {
  id: number;
  key: string | null;
  subscriptions: number;
  cseq: number;
  pending: number;
  behind: boolean;
  bufferedAmount: number;
  maxBufferedAmount: number;
  framesSent: number;
  bytesSent: number;
  dropped: number;
  conflated: number;
}

/**
 * The fan-out core: keeps the latest state per stream (for snapshot-on-subscribe), serializes each
 * update once into a shared Buffer and queues it on every matching client. Queuing something on a
 * client with nothing pending puts it in the flush set and schedules a flush pass with
 * setImmediate, i.e. right after the current event-loop turn: everything that arrives in the same
 * I/O turn goes out as one frame per client. A client is written at most once per cfg.tickMs
 * (minimum interval; a client inside it waits for a timer), and under load batching is natural:
 * whatever is queued while a pass runs is picked up by the next pass.
 */
export class StreamHub {
  readonly clients = new Set<ClientConn>();
  private nextClientId = 1;
  private readonly nextSubId = new WeakMap<ClientConn, number>();
  private readonly matchCache = new Map<string, CachedMatch>();
  /** True while a fan-out loop walks a cached target list, which must then not change under it. */
  private fanningOut = false;
  private readonly depth = new Map<string, Latest<DepthMetrics>>();
  /** Latest cross-venue asset_depth per asset (depth channel, venue and symbol '*'). */
  private readonly assetDepth = new Map<string, Latest<AssetDepth>>();
  private readonly books = new Map<string, BookState>();
  private readonly dirtyBooks = new Set<string>();
  private readonly tickers = new Map<string, Latest<Ticker>>();
  private readonly statuses = new Map<string, Latest<FeedStatus>>();
  private readonly openAlerts = new Map<string, Latest<Alert>>();
  private unsubscribers: (() => Promise<void>)[] = [];
  /** Clients with something pending, or behind (socket buffer above softBufferBytes). */
  private readonly flushSet = new Set<ClientConn>();
  private passImmediate: NodeJS.Immediate | null = null;
  private passTimer: NodeJS.Timeout | null = null;
  private passTimerDue = Infinity;
  /** The flush pass in progress: the clients it visits (flush set at its start), the next one to visit. */
  private passQueue: ClientConn[] = [];
  private passAt = 0;
  /** Clients of the pass in progress not visited yet. */
  private readonly passMembers = new Set<ClientConn>();
  /**
   * Clients woken while a pass is sliced that it will not visit (not in it, or visited already):
   * each slice serves them first, so a latency-sensitive client is not held up for a whole pass to
   * thousands of others.
   */
  private readonly fresh = new Set<ClientConn>();
  private passForce = false;
  private passNextDue = Infinity;
  /** A pass is between two slices; a pass asked for meanwhile runs once it is over. */
  private slicing = false;
  private passAgain = false;
  private running = false;
  private readonly wake = (c: ClientConn): void => {
    c.scheduled = true;
    this.flushSet.add(c);
    if (this.slicing && !this.passMembers.has(c)) this.fresh.add(c);
    this.schedulePass();
  };
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private readonly hello: Buffer;
  attached = false;
  eventErrors = 0;
  subscriptionCount = 0;

  constructor(
    private readonly cfg: GatewayConfig,
    private readonly log: Logger,
  ) {
    this.hello = Buffer.from(
      serializeHello({ type: 'hello', protocol: PROTOCOL_VERSION, tickMs: cfg.tickMs, maxBookDepth: cfg.maxBookDepth, channels: [...CHANNELS] }),
    );
  }

  async attach(bus: Bus): Promise<void> {
    const opts = { group: `depthwatch-gateway-${hostname()}-${process.pid}` };
    const guard = <E>(fn: (e: E) => void) => (e: E) => {
      try {
        fn(e);
      } catch (err) {
        this.eventErrors++;
        if (this.eventErrors <= 10 || this.eventErrors % 1000 === 0) this.log.warn({ err, errors: this.eventErrors }, 'gateway failed to handle an event');
      }
    };
    this.unsubscribers.push(
      await bus.subscribe('out.depth', guard((e: DepthMetrics | AssetDepth) => (e.type === 'asset_depth' ? this.onAssetDepth(e) : this.onDepth(e))), opts),
      // Rebuild books on start (Kafka: from the last snapshot in the bus's md.book rewind window), so a
      // restarted gateway serves book snapshots at once instead of after the collectors' next periodic snapshot.
      await bus.subscribe('md.book', guard((e: BookEvent) => this.onBook(e)), { ...opts, fromBeginning: true }),
      await bus.subscribe('md.trade', guard((e: Trade) => this.onPlain('trades', e, e.venue, e.symbol, assetOf(e.symbol))), opts),
      await bus.subscribe('md.liquidation', guard((e: Liquidation) => this.onPlain('liquidations', e, e.venue, e.symbol, assetOf(e.symbol))), opts),
      // State channels are rebuilt the same way, so a restarted gateway's snapshot-on-subscribe holds
      // the latest ticker (md.ticker rewind window), the latest status of every stream and the open
      // alerts (both sparse: read from the oldest retained record) instead of waiting for their next change.
      await bus.subscribe('md.ticker', guard((e: Ticker) => this.onTicker(e)), { ...opts, fromBeginning: true }),
      await bus.subscribe('md.status', guard((e: FeedStatus) => this.onStatus(e)), { ...opts, fromBeginning: true }),
      await bus.subscribe('out.alert', guard((e: Alert) => this.onAlert(e)), { ...opts, fromBeginning: true }),
    );
    this.attached = true;
  }

  start(): void {
    this.running = true;
    this.keepaliveTimer = setInterval(() => this.keepalive(), this.cfg.keepaliveMs);
    if (this.flushSet.size > 0 || this.dirtyBooks.size > 0) this.schedulePass();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.passImmediate) clearImmediate(this.passImmediate);
    if (this.passTimer) clearTimeout(this.passTimer);
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.passImmediate = this.passTimer = this.keepaliveTimer = null;
    this.passTimerDue = Infinity;
    this.slicing = this.passAgain = false;
    this.passQueue = [];
    this.passMembers.clear();
    this.fresh.clear();
    const unsubs = this.unsubscribers;
    this.unsubscribers = [];
    this.attached = false;
    await Promise.allSettled(unsubs.map((u) => u()));
    for (const c of this.clients) c.close(1001, 'gateway shutting down');
  }

  // ---------------------------------------------------------------- clients

  addClient(ws: WebSocket, keyName: string | null, remote: string): ClientConn {
    const c = new ClientConn(this.nextClientId++, ws, this.cfg, keyName, remote, performance.now());
    c.onPending = this.wake;
    this.clients.add(c);
    this.nextSubId.set(c, 1);
    m.connections.inc();
    ws.on('message', (data, isBinary) => this.onClientMessage(c, data, isBinary));
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('error', (err) => {
      // A frame above hardMaxMessageBytes: ws closes the connection with 1009; count the refusal too.
      if ((err as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') m.refused.inc({ reason: 'frame_too_large' });
      this.log.debug({ err, client: c.id }, 'client socket error');
    });
    ws.once('close', () => this.removeClient(c));
    c.enqueue(null, null, this.hello, performance.now(), { control: true });
    return c;
  }

  private removeClient(c: ClientConn): void {
    if (!this.clients.delete(c)) return;
    c.closing = true;
    c.onPending = null;
    this.flushSet.delete(c);
    this.passMembers.delete(c);
    this.fresh.delete(c);
    c.scheduled = false;
    m.connections.dec();
    this.subscriptionCount -= c.subs.size;
    m.subscriptions.dec(c.subs.size);
    c.subs.clear();
    foldPendingMetrics();
    this.refreshClient(c);
  }

  private reply(c: ClientConn, buf: Buffer): void {
    c.enqueue(null, null, buf, performance.now(), { control: true });
  }

  private refuse(c: ClientConn, code: ErrorCode, message: string, reqId: string | number | null = null): void {
    m.refused.inc({ reason: code });
    this.reply(c, Buffer.from(serializeError({ type: 'error', code, message, reqId: reqId ?? undefined })));
  }

  private onClientMessage(c: ClientConn, data: RawData, _isBinary: boolean): void {
    c.alive = true;
    if (c.closing) return;
    const now = performance.now();
    if (!c.takeToken(now)) {
      // Counted every time; answered at most once per second so a flood cannot amplify itself.
      if (now - c.lastRateErrorAt >= 1000) {
        c.lastRateErrorAt = now;
        this.refuse(c, 'rate_limited', `request rate above ${this.cfg.rateLimitPerSec}/s (burst ${this.cfg.rateLimitBurst}); request ignored`);
      } else m.refused.inc({ reason: 'rate_limited' });
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (buf.length > this.cfg.maxMessageBytes) {
      this.refuse(c, 'message_too_large', `message of ${buf.length} bytes exceeds the limit of ${this.cfg.maxMessageBytes} bytes`);
      return;
    }
    try {
      const req = parseRequest(buf.toString('utf8'), this.cfg);
      if (req.op === 'ping') this.reply(c, Buffer.from(serializePong({ type: 'pong', reqId: req.reqId ?? undefined, ts: Date.now() })));
      else if (req.op === 'subscribe') this.subscribe(c, req.filter, req.reqId);
      else this.unsubscribe(c, req.id, req.filter, req.reqId);
    } catch (err) {
      if (err instanceof RequestError) this.refuse(c, err.code, err.message, err.reqId);
      else {
        this.log.error({ err, client: c.id }, 'request handling failed');
        this.refuse(c, 'bad_request', 'request could not be handled');
      }
    }
  }

  private subscribe(c: ClientConn, filter: Filter, reqId: string | number | null): void {
    if (c.subs.size >= this.cfg.maxSubscriptionsPerConnection) {
      throw new RequestError('too_many_subscriptions', `at most ${this.cfg.maxSubscriptionsPerConnection} subscriptions per connection; unsubscribe first`, reqId);
    }
    const id = this.nextSubId.get(c)!;
    this.nextSubId.set(c, id + 1);
    c.subs.set(id, { id, filter });
    this.subscriptionCount++;
    m.subscriptions.inc();
    this.refreshClient(c);
    const snap = this.snapshot(filter);
    this.reply(
      c,
      Buffer.from(
        serializeSubscribed({ type: 'subscribed', id, reqId: reqId ?? undefined, channels: filter.channels, venues: filter.venues, symbols: filter.symbols, assets: filter.assets, depth: filter.depth, snapshot: snap.length }),
      ),
    );
    const t0 = performance.now();
    for (const s of snap) c.enqueue(s.channel, s.slot, s.buf, t0, { moveToEnd: true, control: true });
  }

  private unsubscribe(c: ClientConn, id: number | null, filter: Filter | null, reqId: string | number | null): void {
    const ids: number[] = [];
    const removed = new Set<string>();
    let removedSubs = 0;
    if (id !== null) {
      const sub = c.subs.get(id);
      if (!sub) throw new RequestError('unknown_subscription', `no subscription with id ${id}`, reqId);
      c.subs.delete(id);
      removedSubs++;
      ids.push(id);
      sub.filter.channels.forEach((ch) => removed.add(ch));
    } else if (filter === null) {
      for (const sub of c.subs.values()) {
        ids.push(sub.id);
        sub.filter.channels.forEach((ch) => removed.add(ch));
      }
      removedSubs = c.subs.size;
      c.subs.clear();
    } else {
      for (const sub of [...c.subs.values()]) {
        if (!sameScope(sub.filter, filter)) continue;
        const drop = sub.filter.channels.filter((ch) => filter.channels.includes(ch));
        if (drop.length === 0) continue;
        ids.push(sub.id);
        drop.forEach((ch) => removed.add(ch));
        sub.filter = { ...sub.filter, channels: sub.filter.channels.filter((ch) => !filter.channels.includes(ch)) };
        if (sub.filter.channels.length === 0) {
          c.subs.delete(sub.id);
          removedSubs++;
        }
      }
      if (ids.length === 0) {
        throw new RequestError('unknown_subscription', 'no subscription has these venues/symbols/assets and channels (unsubscribe by "id", or send the same filter as the subscribe)', reqId);
      }
    }
    this.subscriptionCount -= removedSubs;
    m.subscriptions.dec(removedSubs);
    this.refreshClient(c);
    this.reply(c, Buffer.from(serializeUnsubscribed({ type: 'unsubscribed', reqId: reqId ?? undefined, ids, removed: [...removed].sort() })));
  }

  private snapshot(f: Filter): { channel: Channel; slot: string | null; buf: Buffer }[] {
    const out: { channel: Channel; slot: string | null; buf: Buffer }[] = [];
    const has = (ch: Channel) => f.channels.includes(ch);
    if (has('status')) {
      for (const [k, l] of this.statuses) {
        const e = l.event;
        if (filterMatches(f, 'status', e.venue, e.symbol, e.symbol === '*' ? '*' : assetOf(e.symbol))) out.push({ channel: 'status', slot: `s|${k}`, buf: this.bufOf(l) });
      }
    }
    if (has('depth')) {
      for (const [k, l] of this.depth) {
        if (filterMatches(f, 'depth', l.event.venue, l.event.symbol, assetOf(l.event.symbol))) out.push({ channel: 'depth', slot: `d|${k}`, buf: this.bufOf(l) });
      }
      for (const [asset, l] of this.assetDepth) {
        if (filterMatches(f, 'depth', '*', '*', asset)) out.push({ channel: 'depth', slot: `d|*:${asset}`, buf: this.bufOf(l) });
      }
    }
    if (has('book')) {
      for (const [k, b] of this.books) {
        if (b.synced && filterMatches(f, 'book', b.venue, b.symbol, b.asset)) out.push({ channel: 'book', slot: `b|${k}`, buf: this.bookBuf(b, f.depth) });
      }
    }
    if (has('tickers')) {
      for (const [k, l] of this.tickers) {
        if (filterMatches(f, 'tickers', l.event.venue, l.event.symbol, assetOf(l.event.symbol))) out.push({ channel: 'tickers', slot: `t|${k}`, buf: this.bufOf(l) });
      }
    }
    if (has('alerts')) {
      for (const l of this.openAlerts.values()) {
        const a = l.event;
        if (filterMatches(f, 'alerts', a.venue, a.symbol, a.asset || '*')) out.push({ channel: 'alerts', slot: null, buf: this.bufOf(l) });
      }
    }
    return out;
  }

  private bufOf<E extends AnyEvent>(l: Latest<E>): Buffer {
    if (!l.buf) l.buf = Buffer.from(serializeEvent(l.event));
    return l.buf;
  }

  private bookBuf(b: BookState, n: number): Buffer {
    return Buffer.from(
      serializeBook({ type: 'book', venue: b.venue, symbol: b.symbol, ts: b.ts, seq: b.seq, bids: b.book.topLevels('bid', n), asks: b.book.topLevels('ask', n) }),
    );
  }

  /** Largest book depth among the client's subscriptions matching the stream; 0 = no match. */
  private depthFor(c: ClientConn, channel: Channel, venue: string, symbol: string, asset: string): number {
    if (c.closing) return 0;
    let depth = 0;
    for (const sub of c.subs.values()) {
      if (filterMatches(sub.filter, channel, venue, symbol, asset)) depth = Math.max(depth, sub.filter.depth);
    }
    return depth;
  }

  /** Clients whose subscriptions match; cached, and kept current one client at a time. */
  private match(channel: Channel, venue: string, symbol: string, asset: string): Target[] {
    const key = `${channel}\u0001${venue}\u0001${symbol}\u0001${asset}`;
    const hit = this.matchCache.get(key);
    if (hit) return hit.targets;
    const entry: CachedMatch = { channel, venue, symbol, asset, targets: [], index: new Map() };
    for (const c of this.clients) {
      const depth = this.depthFor(c, channel, venue, symbol, asset);
      if (depth > 0) {
        entry.index.set(c, entry.targets.length);
        entry.targets.push({ c, depth });
      }
    }
    if (this.matchCache.size >= MATCH_CACHE_MAX) this.matchCache.clear();
    this.matchCache.set(key, entry);
    return entry.targets;
  }

  /**
   * Re-evaluates one client against every cached stream after its subscriptions changed. Dropping
   * the whole cache instead made every change cost a scan of all clients per stream: with 10 k
   * connections subscribing, ramp-up fell below 100 connections/s.
   */
  private refreshClient(c: ClientConn): void {
    if (this.fanningOut) {
      // A client closed from inside a fan-out loop: never reshuffle the list being walked.
      this.matchCache.clear();
      return;
    }
    for (const e of this.matchCache.values()) {
      const depth = this.depthFor(c, e.channel, e.venue, e.symbol, e.asset);
      const i = e.index.get(c);
      if (i === undefined) {
        if (depth > 0) {
          e.index.set(c, e.targets.length);
          e.targets.push({ c, depth });
        }
      } else if (depth > 0) {
        e.targets[i].depth = depth;
      } else {
        const last = e.targets.pop()!;
        if (i < e.targets.length) {
          e.targets[i] = last;
          e.index.set(last.c, i);
        }
        e.index.delete(c);
      }
    }
  }

  // ---------------------------------------------------------------- bus events

  private fanout(channel: Channel, slot: string | null, targets: Target[], buf: Buffer): void {
    const t0 = performance.now();
    this.fanningOut = true;
    try {
      for (let i = 0; i < targets.length; i++) targets[i].c.enqueue(channel, slot, buf, t0);
    } finally {
      this.fanningOut = false;
    }
  }

  private onDepth(e: DepthMetrics): void {
    const key = streamKey(e.venue, e.symbol);
    const latest: Latest<DepthMetrics> = { event: e, buf: null };
    this.depth.set(key, latest);
    const targets = this.match('depth', e.venue, e.symbol, assetOf(e.symbol));
    if (targets.length) this.fanout('depth', `d|${key}`, targets, this.bufOf(latest));
  }

  /** Cross-venue aggregate: matched like an asset-scope alert (venue and symbol '*' match every filter; the asset filter applies). */
  private onAssetDepth(e: AssetDepth): void {
    const latest: Latest<AssetDepth> = { event: e, buf: null };
    this.assetDepth.set(e.asset, latest);
    const targets = this.match('depth', '*', '*', e.asset);
    if (targets.length) this.fanout('depth', `d|*:${e.asset}`, targets, this.bufOf(latest));
  }

  private onTicker(e: Ticker): void {
    const key = streamKey(e.venue, e.symbol);
    const latest: Latest<Ticker> = { event: e, buf: null };
    this.tickers.set(key, latest);
    const targets = this.match('tickers', e.venue, e.symbol, assetOf(e.symbol));
    if (targets.length) this.fanout('tickers', `t|${key}`, targets, this.bufOf(latest));
  }

  private onStatus(e: FeedStatus): void {
    const key = streamKey(e.venue, e.symbol);
    const latest: Latest<FeedStatus> = { event: e, buf: null };
    this.statuses.set(key, latest);
    const targets = this.match('status', e.venue, e.symbol, e.symbol === '*' ? '*' : assetOf(e.symbol));
    if (targets.length) this.fanout('status', `s|${key}`, targets, this.bufOf(latest));
  }

  private onAlert(e: Alert): void {
    const latest: Latest<Alert> = { event: e, buf: null };
    if (e.state === 'resolved') this.openAlerts.delete(e.id);
    else {
      this.openAlerts.delete(e.id); // re-insert: iteration order = last update
      this.openAlerts.set(e.id, latest);
      if (this.openAlerts.size > 10_000) this.openAlerts.delete(this.openAlerts.keys().next().value!);
    }
    const targets = this.match('alerts', e.venue, e.symbol, e.asset || '*');
    if (targets.length) this.fanout('alerts', null, targets, this.bufOf(latest));
  }

  private onPlain(channel: Channel, e: AnyEvent, venue: string, symbol: string, asset: string): void {
    const targets = this.match(channel, venue, symbol, asset);
    if (targets.length) this.fanout(channel, null, targets, Buffer.from(serializeEvent(e)));
  }

  private onBook(e: BookEvent): void {
    const key = streamKey(e.venue, e.symbol);
    let st = this.books.get(key);
    if (!st) {
      if (e.type !== 'book_snapshot') return; // nothing to apply a delta to until the first snapshot
      st = { book: new L2Book(e.venue, e.symbol), venue: e.venue, symbol: e.symbol, asset: assetOf(e.symbol), ts: 0, seq: 0, synced: false, events: 0, t0: -1 };
      this.books.set(key, st);
    }
    if (e.type === 'book_snapshot') {
      st.book.applySnapshot(e.bids, e.asks, e.depthLimit);
      st.synced = true;
    } else {
      if (!st.synced) return;
      st.book.applyDelta(e.bids, e.asks);
    }
    st.ts = e.ts;
    st.seq = e.seq;
    if (st.events === 0) st.t0 = performance.now();
    st.events++;
    this.dirtyBooks.add(key);
    this.schedulePass();
  }

  /** Book messages are built per flush pass: one serialization per (stream, distinct depth N among subscribers). */
  private flushBooks(): void {
    if (this.dirtyBooks.size === 0) return;
    for (const key of this.dirtyBooks) {
      const st = this.books.get(key)!;
      const events = st.events;
      st.events = 0;
      const targets = this.match('book', st.venue, st.symbol, st.asset);
      if (targets.length === 0) continue;
      const byDepth = new Map<number, Buffer>();
      const slot = `b|${key}`;
      this.fanningOut = true;
      try {
        for (const t of targets) {
          let buf = byDepth.get(t.depth);
          if (!buf) {
            buf = this.bookBuf(st, t.depth);
            byDepth.set(t.depth, buf);
          }
          t.c.enqueue('book', slot, buf, st.t0);
          if (events > 1) t.c.countConflated('book', events - 1);
        }
      } finally {
        this.fanningOut = false;
      }
    }
    this.dirtyBooks.clear();
  }

  // ---------------------------------------------------------------- flush scheduling

  private schedulePass(): void {
    if (!this.running) return;
    if (this.slicing) {
      this.passAgain = true;
      return;
    }
    if (this.passImmediate !== null) return;
    this.passImmediate = setImmediate(this.runPass);
  }

  private armPassTimer(due: number, now: number): void {
    if (this.passTimer !== null) {
      if (this.passTimerDue <= due) return;
      clearTimeout(this.passTimer);
    }
    this.passTimerDue = due;
    this.passTimer = setTimeout(this.runTimedPass, Math.max(0, due - now));
  }

  private readonly runPass = (): void => {
    this.passImmediate = null;
    this.pass(false, this.cfg.passSliceClients);
  };

  private readonly runTimedPass = (): void => {
    this.passTimer = null;
    this.passTimerDue = Infinity;
    if (this.slicing) this.passAgain = true;
    else this.pass(false, this.cfg.passSliceClients);
  };

  private readonly runSlice = (): void => {
    this.passImmediate = null;
    this.slice(this.cfg.passSliceClients);
  };

  /** Runs one flush pass now, whole, ignoring the per-client minimum interval (tests). */
  tick(): void {
    if (this.slicing) this.slice(Infinity);
    this.pass(true, Infinity);
  }

  /**
   * One flush pass: builds the dirty books' messages, then writes one frame to every client in the
   * flush set that is due (last frame at least cfg.tickMs ago), `sliceClients` clients per
   * event-loop turn. Clients still inside their interval, and behind clients (rechecked every
   * max(tickMs, 10 ms) so the slow-consumer clock runs and they resume as soon as their socket
   * drains), stay in the set behind a timer. Metrics are folded once per slice.
   */
  private pass(force: boolean, sliceClients: number): void {
    this.flushBooks();
    if (this.flushSet.size === 0) {
      foldPendingMetrics();
      return;
    }
    this.passQueue = [...this.flushSet];
    for (const c of this.passQueue) this.passMembers.add(c);
    this.fresh.clear();
    this.passAt = 0;
    this.passForce = force;
    this.passNextDue = Infinity;
    this.slice(sliceClients);
  }

  /**
   * One slice: first the clients woken since the pass began that it would not reach (up to
   * `limit`), then the next `limit` clients of the pass, so the pass always advances and nobody
   * waits for all of it. Each visit writes at most one whole frame (consecutive cseqs), so slicing
   * between clients keeps every client's order.
   */
  private slice(limit: number): void {
    const now = performance.now();
    if (this.slicing) {
      this.flushBooks(); // book events that arrived between slices: their subscribers are woken (fresh or ahead in the pass)
      let n = 0;
      for (const c of this.fresh) {
        if (n++ >= limit) break;
        // A client inside its minimum interval stays fresh: rechecked next slice (one event-loop turn later).
        if (this.visit(c, now, false) !== 'wait') this.fresh.delete(c);
      }
    }
    const end = Math.min(this.passQueue.length, this.passAt + limit);
    for (; this.passAt < end; this.passAt++) {
      const c = this.passQueue[this.passAt]!;
      if (!this.passMembers.delete(c)) continue; // closed since the pass began
      this.visit(c, now, this.passForce);
    }
    foldPendingMetrics();
    if (this.passAt < this.passQueue.length) {
      // Let I/O and bus events in before the next slice.
      this.slicing = true;
      if (this.running && this.passImmediate === null) this.passImmediate = setImmediate(this.runSlice);
      return;
    }
    // Pass over. Fresh clients not served yet are still in the flush set: the next pass takes them.
    this.slicing = false;
    this.passQueue = [];
    if (this.fresh.size > 0) this.passAgain = true;
    this.fresh.clear();
    if (this.passNextDue !== Infinity && this.running) this.armPassTimer(this.passNextDue, now);
    if (this.passAgain) {
      this.passAgain = false;
      this.schedulePass();
    }
  }

  /**
   * Writes one client's due frame. 'wait': it is inside its minimum interval (cfg.tickMs) and stays
   * in the flush set behind the pass timer; 'done': visited (written, left, or dropped from the set).
   */
  private visit(c: ClientConn, now: number, force: boolean): 'wait' | 'done' {
    if (!this.flushSet.has(c)) return 'done';
    const minGap = this.cfg.tickMs;
    if (c.closing) {
      this.flushSet.delete(c);
      c.scheduled = false;
      return 'done';
    }
    if (!force && now - c.lastFrameAt < minGap && c.pendingCount > 0) {
      const due = c.lastFrameAt + minGap;
      if (due < this.passNextDue) this.passNextDue = due;
      return 'wait';
    }
    if (c.flush(now) === 'slow') {
      const buffered = c.ws.bufferedAmount;
      const reason =
        buffered > this.cfg.hardBufferBytes
          ? `socket buffer ${buffered} bytes exceeds the hard bound of ${this.cfg.hardBufferBytes} bytes`
          : `behind for more than ${this.cfg.slowDisconnectMs} ms (socket buffer ${buffered} bytes above ${this.cfg.softBufferBytes})`;
      this.log.info({ client: c.id, remote: c.remote, key: c.keyName, buffered, dropped: c.droppedTotal, conflated: c.conflatedTotal }, `disconnecting slow consumer: ${reason}`);
      c.disconnectSlow(`slow consumer: ${reason}`);
      this.flushSet.delete(c);
      c.scheduled = false;
      return 'done';
    }
    if (c.closing || c.ws.readyState !== c.ws.OPEN) {
      this.flushSet.delete(c);
      c.scheduled = false;
    } else if (c.behindSince !== null || c.ws.bufferedAmount > this.cfg.softBufferBytes) {
      const due = now + Math.max(minGap, 10);
      if (due < this.passNextDue) this.passNextDue = due;
    } else if (c.pendingCount === 0) {
      this.flushSet.delete(c);
      c.scheduled = false;
    }
    return 'done';
  }

  private keepalive(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        m.deadTerminated.inc();
        this.log.info({ client: c.id, remote: c.remote }, 'terminating client that missed a keepalive pong');
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      try {
        c.ws.ping();
      } catch {
        /* socket already closing */
      }
    }
  }

  stats(): ClientStats[] {
    return [...this.clients].map((c) => ({
      id: c.id,
      key: c.keyName,
      subscriptions: c.subs.size,
      cseq: c.cseq,
      pending: c.pendingCount,
      behind: c.behindSince !== null,
      bufferedAmount: c.ws.bufferedAmount,
      maxBufferedAmount: c.maxBuffered,
      framesSent: c.framesSent,
      bytesSent: c.bytesSent,
      dropped: c.droppedTotal,
      conflated: c.conflatedTotal,
    }));
  }
}
