import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';

/**
 * Shared scaffolding for simulated venue front ends: one HTTP server on 127.0.0.1 (random port)
 * serving REST and upgrading WebSockets, a client registry with per-client stream subscriptions,
 * and the venue-independent fault primitives (disconnect, malformed/truncated frames, stall,
 * ping with payload). A venue front end supplies REST routes, the subscription parsing, and its
 * wire formats.
 */

export interface SimClient {
  ws: WebSocket;
  path: string;
  streams: Set<string>;
  /** Payloads of pongs received (answers to our pings). */
  pongs: string[];
}

export interface RestReply {
  status: number;
  body: string;
}

export interface FrontEndHooks {
  /** REST request → reply (null: 404). */
  rest(path: string, query: URLSearchParams): RestReply | Promise<RestReply> | null;
  /** A client connected on `path` with `query`: which streams it gets (null: reject the upgrade). */
  accept(path: string, query: URLSearchParams): string[] | null;
  /** A text frame from a client (live SUBSCRIBE etc.); return frames to send back. */
  onClientMessage?(client: SimClient, text: string): string[];
  /** A client just connected: frames to greet it with (BitMEX welcome). */
  onConnect?(client: SimClient): string[];
}

/** Hooks of a WebSocket-only venue: no REST, one socket path, subscriptions by client messages. */
export function wsOnlyHooks(route: string, onClientMessage: (client: SimClient, text: string) => string[]): FrontEndHooks {
  return { rest: () => null, accept: (path) => (path === route ? [] : null), onClientMessage };
}

/** The per-symbol states a fault targets: all of them, or those whose unified or venue symbol is `symbol`. */
export function pickSymbols<T extends { inst: { spec: { symbol: string; venueSymbol: string } } }>(states: Iterable<T>, symbol?: string): T[] {
  return [...states].filter((s) => !symbol || s.inst.spec.symbol === symbol || s.inst.spec.venueSymbol === symbol);
}

export class FrontEnd {
  readonly clients = new Set<SimClient>();
  private server!: Server;
  private wss!: WebSocketServer;
  private stalledUntil = 0;
  private stallQueue: { client: SimClient; text: string; stream: string }[] = [];
  private stallTimer: NodeJS.Timeout | null = null;
  private corrupt: { kind: 'malformed' | 'truncated'; match: string } | null = null;
  private readonly detach: (() => void)[] = [];
  /** Frames and bytes sent, for tests and debugging. */
  readonly sent = { frames: 0, bytes: 0, rest: 0 };
  restUrl = '';
  wsUrl = '';

  constructor(private readonly hooks: FrontEndHooks) {}

  async listen(): Promise<void> {
    this.server = createServer((req, res) => void this.handleRest(req, res));
    this.wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const streams = this.hooks.accept(url.pathname, url.searchParams);
      if (!streams) {
        socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const client: SimClient = { ws, path: url.pathname, streams: new Set(streams), pongs: [] };
        this.clients.add(client);
        ws.on('pong', (data) => client.pongs.push(data.toString()));
        ws.on('message', (data) => {
          const replies = this.hooks.onClientMessage?.(client, data.toString()) ?? [];
          for (const r of replies) ws.send(r);
        });
        ws.on('close', () => this.clients.delete(client));
        ws.on('error', () => this.clients.delete(client));
        for (const r of this.hooks.onConnect?.(client) ?? []) ws.send(r);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.restUrl = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}`;
  }

  private async handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    this.sent.rest++;
    try {
      const reply = (await this.hooks.rest(url.pathname, url.searchParams)) ?? { status: 404, body: '{"code":-1,"msg":"not found"}' };
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: -1, msg: (err as Error).message }));
    }
  }

  /** Send one frame to every client subscribed to `stream` (applying armed faults). */
  broadcast(stream: string, text: string): void {
    for (const c of this.clients) if (c.streams.has(stream)) this.sendTo(c, text, stream);
  }

  hasSubscribers(stream: string): boolean {
    for (const c of this.clients) if (c.streams.has(stream)) return true;
    return false;
  }

  sendTo(client: SimClient, text: string, stream = ''): void {
    // Until the stall timer has flushed the queue (a late timer must not let newer frames overtake queued ones).
    if (this.stallTimer !== null || Date.now() < this.stalledUntil) {
      this.stallQueue.push({ client, text, stream });
      return;
    }
    if (this.corrupt && stream.includes(this.corrupt.match)) {
      // The faulty frame replaces this one: its content is lost, as on a real broken frame.
      text =
        this.corrupt.kind === 'truncated'
          ? text.slice(0, Math.max(1, Math.floor(text.length / 2)))
          : text.includes('"data":{')
            ? text.replace('"data":{', '"data":{,')
            : '{' + text;
      this.corrupt = null;
    }
    if (client.ws.readyState !== WebSocket.OPEN) return;
    client.ws.send(text);
    this.sent.frames++;
    this.sent.bytes += text.length;
  }

  /** Listen to a market event (`step`, `pause`) for the front end's lifetime: close() detaches it. */
  follow<A extends unknown[]>(source: { on(e: string, fn: (...a: A) => void): unknown; off(e: string, fn: (...a: A) => void): unknown }, event: string, fn: (...a: A) => void): void {
    source.on(event, fn);
    this.detach.push(() => source.off(event, fn));
  }

  /** Run `fn` every `ms` (venue heartbeats, housekeeping) for the front end's lifetime: close() stops it. */
  every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    timer.unref();
    this.detach.push(() => clearInterval(timer));
  }

  // ---- faults

  /** The venue-independent faults, with `match` (the book stream's name part) as the default target of frame corruption. */
  baseFaults(match: string) {
    return {
      disconnectAll: () => this.disconnectAll(),
      malformedFrame: (stream = match) => this.malformedFrame(stream),
      truncatedFrame: (stream = match) => this.truncatedFrame(stream),
      stall: (ms: number) => this.stall(ms),
    };
  }

  /** Drop every client connection (abruptly, like a venue restart). */
  disconnectAll(): void {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
  }

  /** The next frame on a stream whose name contains `match` is replaced by a malformed (not JSON) version of itself. */
  malformedFrame(match = ''): void {
    this.corrupt = { kind: 'malformed', match };
  }

  /** The next frame on a stream whose name contains `match` is cut in half. */
  truncatedFrame(match = ''): void {
    this.corrupt = { kind: 'truncated', match };
  }

  /** Stop sending for `ms`; what would have been sent is delivered afterwards (the venue lagged, nothing lost). */
  stall(ms: number): void {
    this.stalledUntil = Date.now() + ms;
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      this.stalledUntil = 0; // timers may fire a hair before Date.now() reaches the deadline
      const q = this.stallQueue;
      this.stallQueue = [];
      for (const { client, text, stream } of q) this.sendTo(client, text, stream);
    }, ms);
    this.stallTimer.unref();
  }

  /** Protocol ping with a payload to every client; the echo lands in client.pongs. */
  ping(payload: string): void {
    for (const c of this.clients) if (c.ws.readyState === WebSocket.OPEN) c.ws.ping(payload);
  }

  async close(): Promise<void> {
    for (const off of this.detach.splice(0)) off();
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.disconnectAll();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

/** Fault hooks of one simulated venue (each front end documents its own set). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type SimFaults = Record<string, (...args: any[]) => any>;

/** What sim/index.ts needs from any simulated venue front end. */
export interface SimVenue {
  readonly fe: FrontEnd;
  /** What was actually put on the wire per unified symbol (after venue sampling). */
  readonly counters: { trades: Record<string, number>; liquidations: Record<string, number> };
  start(): Promise<void>;
  close(): Promise<void>;
  faults(): SimFaults;
}
