import { WebSocket } from 'ws';
import type { GatewayConfig } from '../config.ts';
import { gatewayMetrics as m } from '../metrics.ts';
import { serializeDropped, serializeError, type Channel, type Filter } from './protocol.ts';

const COMMA = Buffer.from(',');
const FRAME_END = Buffer.from(']}');

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
 * Per-connection state: subscriptions, the pending queue of the current tick, the request token
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
  /** Local counters folded into Prometheus once per tick (labelled inc is too costly per message). */
  readonly conflatedByChannel = new Map<Channel, number>();
  readonly droppedByChannel = new Map<Channel, number>();
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
  }

  countConflated(channel: Channel, n: number): void {
    this.conflatedTotal += n;
    this.conflatedByChannel.set(channel, (this.conflatedByChannel.get(channel) ?? 0) + n);
  }

  private drop(channel: Channel, n: number): void {
    this.droppedTotal += n;
    this.droppedByChannel.set(channel, (this.droppedByChannel.get(channel) ?? 0) + n);
    const idx = this.notices.get(channel);
    if (idx !== undefined) this.items[idx].dropped! += n;
    else {
      this.notices.set(channel, this.items.length);
      this.items.push({ buf: null, channel, slot: false, control: false, dropped: n });
    }
  }

  foldMetrics(): void {
    for (const [ch, n] of this.conflatedByChannel) m.conflated.inc({ channel: ch }, n);
    this.conflatedByChannel.clear();
    for (const [ch, n] of this.droppedByChannel) m.dropped.inc({ channel: ch }, n);
    this.droppedByChannel.clear();
  }

  /**
   * Called once per tick. Writes every pending message as ONE frame unless the socket already
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
    const frame = this.buildFrame();
    this.ws.send(frame, { binary: false });
    if (this.oldestT0 >= 0) m.fanoutLatency.observe((performance.now() - this.oldestT0) / 1000);
    this.resetQueue();
    return 'ok';
  }

  private buildFrame(extra: Buffer[] = []): Buffer {
    const parts: Buffer[] = [];
    parts.push(Buffer.from(`{"cseq":${this.cseq},"msgs":[`));
    let count = 0;
    const add = (b: Buffer) => {
      if (count > 0) parts.push(COMMA);
      parts.push(b);
      count++;
    };
    for (const it of this.items) {
      if (it.dropped !== undefined) add(Buffer.from(serializeDropped({ type: 'dropped', channel: it.channel!, count: it.dropped })));
      else if (it.buf) add(it.buf);
    }
    for (const b of extra) add(b);
    parts.push(FRAME_END);
    const frame = Buffer.concat(parts);
    this.cseq += count;
    this.framesSent++;
    this.bytesSent += frame.length;
    m.framesSent.inc();
    m.messagesSent.inc(count);
    m.bytesSent.inc(frame.length);
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
        this.droppedTotal++;
        this.droppedByChannel.set(it.channel, (this.droppedByChannel.get(it.channel) ?? 0) + 1);
      }
    }
    this.items = [...counts].map(([channel, n]) => ({ buf: null, channel, slot: false, control: false, dropped: n }));
    const err = Buffer.from(serializeError({ type: 'error', code: 'slow_consumer', message: reason }));
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(this.buildFrame([err]), { binary: false });
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
