import WebSocket from 'ws';
import type { Logger } from '@depthwatch/ops';
import type { Heartbeat } from './adapter.ts';
import { Backoff } from './backoff.ts';

/**
 * One venue WebSocket that never gives up: reconnects forever with jittered exponential backoff,
 * sends the venue's client keepalive, and drops sockets that went silent (a half-open TCP
 * connection looks healthy forever otherwise). Server ping frames are answered by `ws` itself with
 * the same payload (Binance spot checks the echo).
 */
export interface ConnectionOptions {
  url: string;
  heartbeat: Heartbeat;
  reconnect: { baseMs: number; maxMs: number };
  /** Housekeeping period for keepalive and silence checks. */
  tickMs: number;
  log: Logger;
  onOpen(): void;
  onMessage(text: string, recvTs: number, bytes: number): void;
  /** The socket is gone; a reconnect is scheduled unless closed. */
  onDown(reason: string): void;
  now?: () => number;
}

export class ManagedConnection {
  private ws: WebSocket | null = null;
  private closed = false;
  private timer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private lastRx = 0;
  private lastTx = 0;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private downReported = false;
  /** Connections that reached 'open' (the first one included). */
  opens = 0;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = new Backoff(opts.reconnect);
    this.now = opts.now ?? Date.now;
  }

  get isOpen(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.connect();
    this.timer = setInterval(() => this.housekeeping(), this.opts.tickMs);
    this.timer.unref();
  }

  send(text: string): void {
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    this.ws.send(text);
    this.lastTx = this.now();
  }

  /** Drop the socket now (venue asked us to, or it went silent); onDown and a reconnect follow. */
  reconnectNow(reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.reportDown(reason);
    ws.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    this.ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.terminate();
    });
  }

  private connect(): void {
    if (this.closed) return;
    this.downReported = false;
    // The ws client negotiates permessage-deflate by default; it costs CPU and memory per frame.
    const ws = new WebSocket(this.opts.url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.ws = ws;
    ws.on('open', () => {
      this.opens++;
      this.lastRx = this.lastTx = this.now();
      this.opts.onOpen();
    });
    ws.on('message', (data: WebSocket.RawData) => {
      const recvTs = this.now();
      this.lastRx = recvTs;
      this.backoff.reset();
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      this.opts.onMessage(buf.toString('utf8'), recvTs, buf.length);
    });
    ws.on('ping', () => (this.lastRx = this.now()));
    ws.on('pong', () => (this.lastRx = this.now()));
    ws.on('error', (err) => this.opts.log.debug({ err: err.message }, 'websocket error'));
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.reportDown(`closed ${code}${reason.length ? ' ' + reason.toString() : ''}`);
      if (this.closed) return;
      const delay = this.backoff.next();
      this.reconnectTimer = setTimeout(() => this.connect(), delay);
      this.reconnectTimer.unref();
    });
  }

  private reportDown(reason: string): void {
    if (this.downReported || this.closed) return;
    this.downReported = true;
    this.opts.onDown(reason);
  }

  private housekeeping(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const now = this.now();
    const hb = this.opts.heartbeat;
    if (now - this.lastRx > hb.silenceTimeoutMs) {
      this.opts.log.warn({ silentMs: now - this.lastRx }, 'connection silent, reconnecting');
      this.reconnectNow('silent');
      return;
    }
    const ping = hb.clientPing;
    if (ping) {
      const since = ping.onlyWhenIdle ? now - Math.max(this.lastRx, this.lastTx) : now - this.lastTx;
      if (since >= ping.intervalMs) {
        if (ping.frame === 'ws-ping') ws.ping();
        else ws.send(ping.frame);
        this.lastTx = now;
      }
    }
  }
}
