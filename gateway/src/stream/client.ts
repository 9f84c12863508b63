import { WebSocket } from 'ws';
import type { GatewayConfig } from '../config.ts';
import { gatewayMetrics as m } from '../metrics.ts';
import { serializeDropped, serializeError, type Channel, type Filter } from './protocol.ts';

const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;

/**
 * Metric deltas accumulated by every connection and folded into Prometheus once per flush pass by
 * the hub (a labelled inc per message or per frame is too costly at fan-out rates).
 */
export const pendingMetrics = {
  frames: 0,
  messages: 0,
  bytes: 0,
  conflated: new Map<Channel, number>(),
  dropped: new Map<Channel, number>(),
};

export function foldPendingMetrics(): void {
  const p = pendingMetrics;
  if (p.frames > 0) {
    m.framesSent.inc(p.frames);
    m.messagesSent.inc(p.messages);
    m.bytesSent.inc(p.bytes);
    p.frames = p.messages = p.bytes = 0;
  }
  if (p.conflated.size > 0) {
    for (const [ch, n] of p.conflated) m.conflated.inc({ channel: ch }, n);
    p.conflated.clear();
  }
  if (p.dropped.size > 0) {
    for (const [ch, n] of p.dropped) m.dropped.inc({ channel: ch }, n);
    p.dropped.clear();
  }
}

/** One queued message: a shared, already serialized buffer (never copied per client until the frame is built). */
interface Item {
  buf: Buffer | null; // null: tombstone of a slot moved to the end
  channel: Channel | null;
  slot: boolean;
  control: boolean;
  /** Dropped notice: channel and running count, serialized at flush. */
  dropped?: number;
}

export interface Subscription {
  id: number;
  filter: Filter;
}

export type CloseReason = 'slow' | 'dead' | 'shutdown';

/**
 * Per-connection state: subscriptions, the queue of messages not yet written, the request token
 * bucket and the slow-consumer bookkeeping. Frames: `{"cseq":N,"msgs":[m0,m1,…]}` where message
 * i of the frame has per-connection sequence number N+i (first message of a connection: cseq 1).
 */
export class ClientConn {
  readonly subs = new Map<number, Subscription>();
  /** Next per-connection message sequence number. */
  cseq = 1;
  private items: Item[] = [];
  /** Conflation slot key → index in items. */
  private readonly slots = new Map<string, number>();
  /** Channel → index of its pending dropped notice in items. */
  private readonly notices = new Map<Channel, number>();
  /** Bytes of non-conflatable messages pending (bounded by maxPendingBytes). */
  private pendingBytes = 0;
  private oldestT0 = -1;
  behindSince: number | null = null;
  alive = true;
  closing = false;
  private tokens: number;
  private lastRefill: number;
  lastRateErrorAt = -Infinity;
  /** performance.now() of the last frame written (minimum interval between frames: cfg.tickMs). */
  lastFrameAt = -Infinity;
  /** True while the hub holds this connection in its flush set (see StreamHub.wake). */
  scheduled = false;
  /** Called when the connection goes from nothing pending to something pending. */
  onPending: ((c: ClientConn) => void) | null = null;
  // Stats for tests and /debug.
  framesSent = 0;
  bytesSent = 0;
  maxBuffered = 0;
  droppedTotal = 0;
  conflatedTotal = 0;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    readonly cfg: GatewayConfig,
    readonly keyName: string | null,
    readonly remote: string,
    now: number,
  ) {
    this.tokens = cfg.rateLimitBurst;
    this.lastRefill = now;
  }

  get pendingCount(): number {
    return this.items.length;
  }

  /** Token bucket; false when the request must be refused. */
  takeToken(now: number): boolean {
    const { rateLimitPerSec, rateLimitBurst } = this.cfg;
    this.tokens = Math.min(rateLimitBurst, this.tokens + ((now - this.lastRefill) * rateLimitPerSec) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Queues a message for the next frame. `slot` (depth, book, tickers, status: `channel|stream`)
   * makes it conflatable: a pending message of the same slot is replaced in place (or, with
   * `moveToEnd`, tombstoned and re-queued at the end so snapshot order after `subscribed` holds).
   * Non-conflatable messages (trades, liquidations, alerts) beyond maxPendingBytes are dropped and
   * counted in a `dropped` notice that sits where the gap is. `control` messages (replies to the
   * client's own requests) are never dropped.
   */
  enqueue(channel: Channel | null, slot: string | null, buf: Buffer, t0: number, opts?: { moveToEnd?: boolean; control?: boolean }): void {
    if (this.closing) return;
    if (slot !== null) {
      const idx = this.slots.get(slot);
      if (idx !== undefined) {
        if (!opts?.moveToEnd) {
          this.items[idx].buf = buf;
          if (channel) this.countConflated(channel, 1);
          return;
        }
        this.items[idx].buf = null;
      }
      this.slots.set(slot, this.items.length);
    } else if (!opts?.control) {
      if (this.pendingBytes + buf.length > this.cfg.maxPendingBytes && channel) {
        this.drop(channel, 1);
        return;
      }
      this.pendingBytes += buf.length;
    }
    if (this.oldestT0 < 0) this.oldestT0 = t0;
    this.items.push({ buf, channel, slot: slot !== null, control: !!opts?.control });
    if (!this.scheduled && this.onPending) this.onPending(this);
  }

  countConflated(channel: Channel, n: number): void {
    this.conflatedTotal += n;
    const c = pendingMetrics.conflated;
    c.set(channel, (c.get(channel) ?? 0) + n);
  }

  private countDropped(channel: Channel, n: number): void {
    this.droppedTotal += n;
    const d = pendingMetrics.dropped;
    d.set(channel, (d.get(channel) ?? 0) + n);
  }

  private drop(channel: Channel, n: number): void {
    this.countDropped(channel, n);
    const idx = this.notices.get(channel);
    if (idx !== undefined) this.items[idx].dropped! += n;
    else {
      this.notices.set(channel, this.items.length);
      this.items.push({ buf: null, channel, slot: false, control: false, dropped: n });
      if (!this.scheduled && this.onPending) this.onPending(this);
    }
  }

  /**
   * Called by the hub's flush pass (at most once per cfg.tickMs per connection). Writes every
   * pending message as ONE frame unless the socket already
   * holds more than softBufferBytes, in which case the client is behind: nothing is written,
   * conflatable messages keep conflating, the rest queue up to maxPendingBytes and are then dropped
   * with a notice. Returns 'slow' when the client must be disconnected.
   */
  flush(now: number): 'ok' | 'slow' {
    if (this.closing || this.ws.readyState !== WebSocket.OPEN) return 'ok';
    const buffered = this.ws.bufferedAmount;
    if (buffered > this.maxBuffered) this.maxBuffered = buffered;
    if (buffered > this.cfg.hardBufferBytes) return 'slow';
    if (buffered > this.cfg.softBufferBytes) {
      if (this.behindSince === null) this.behindSince = now;
      return now - this.behindSince > this.cfg.slowDisconnectMs ? 'slow' : 'ok';
    }
    this.behindSince = null;
    if (this.items.length === 0) return 'ok';
    const frame = this.buildFrame(null);
    this.ws.send(frame, { binary: false });
    this.lastFrameAt = now;
    if (this.oldestT0 >= 0) m.fanoutLatency.observe((performance.now() - this.oldestT0) / 1000);
    this.resetQueue();
    return 'ok';
  }

  /**
   * The frame in one allocation of its exact length: envelope, the shared message buffers joined
   * with commas, `]}` (no intermediate parts list, no Buffer.concat).
   */
  private buildFrame(extra: Buffer | null): Buffer {
    const items = this.items;
    const head = `{"cseq":${this.cseq},"msgs":[`;
    let total = head.length + 2; // envelope (ASCII) + `]}`
    let count = 0;
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      if (it.dropped !== undefined) {
        // Notices are serialized now (their count may have grown while pending).
        it.buf = Buffer.from(serializeDropped({ type: 'dropped', channel: it.channel!, count: it.dropped }));
      }
      if (it.buf) {
        total += it.buf.length;
        count++;
      }
    }
    if (extra) {
      total += extra.length;
      count++;
    }
    if (count > 1) total += count - 1; // commas
    const frame = Buffer.allocUnsafe(total);
    let off = frame.write(head, 0, 'latin1');
    let first = true;
    for (let i = 0; i < items.length; i++) {
      const b = items[i].buf;
      if (!b) continue;
      if (!first) frame[off++] = COMMA;
      first = false;
      frame.set(b, off);
      off += b.length;
    }
    if (extra) {
      if (!first) frame[off++] = COMMA;
      frame.set(extra, off);
      off += extra.length;
    }
    frame[off++] = CLOSE_BRACKET;
    frame[off] = CLOSE_BRACE;
    this.cseq += count;
    this.framesSent++;
    this.bytesSent += total;
    pendingMetrics.frames++;
    pendingMetrics.messages += count;
    pendingMetrics.bytes += total;
    return frame;
  }

  private resetQueue(): void {
    this.items = [];
    this.slots.clear();
    this.notices.clear();
    this.pendingBytes = 0;
    this.oldestT0 = -1;
  }

  /**
   * Slow-consumer disconnect: conflatable messages are discarded, pending non-conflatable ones are
   * counted as dropped; one last small frame carries the dropped notices and a `slow_consumer`
   * error, then the close frame (4001). A client that does not finish the close handshake within
   * closeGraceMs is terminated.
   */
  disconnectSlow(reason: string): void {
    if (this.closing) return;
    const counts = new Map<Channel, number>();
    for (const it of this.items) {
      if (!it.channel) continue;
      if (it.dropped !== undefined) counts.set(it.channel, (counts.get(it.channel) ?? 0) + it.dropped);
      else if (it.buf && !it.slot && !it.control) {
        counts.set(it.channel, (counts.get(it.channel) ?? 0) + 1);
        this.countDropped(it.channel, 1);
      }
    }
    this.items = [...counts].map(([channel, n]) => ({ buf: null, channel, slot: false, control: false, dropped: n }));
    const err = Buffer.from(serializeError({ type: 'error', code: 'slow_consumer', message: reason }));
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(this.buildFrame(err), { binary: false });
    this.resetQueue();
    this.close(4001, 'slow consumer');
    m.slowDisconnects.inc();
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.resetQueue();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
      return;
    }
    const t = setTimeout(() => this.ws.terminate(), this.cfg.closeGraceMs);
    t.unref();
    this.ws.once('close', () => clearTimeout(t));
  }
}
