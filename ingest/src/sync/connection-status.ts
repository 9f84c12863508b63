import { SYNC_STATES, streamKey, type Bus, type FeedStatus, type SyncState, type VenueId } from '@depthwatch/schemas';
import { ingestMetrics as M } from './metrics.ts';

/**
 * The venue's connection-level status: md.status with symbol '*', stream `venue:*`. It describes
 * the venue's planned sockets as a whole, so ops see an outage, a reconnect storm or a dead route
 * even when no symbol's status says why:
 *   connecting  no socket open yet, none failed since (start; a new socket still handshaking)
 *   syncing     some sockets open, the others still opening for the first time
 *   synced      every planned socket open
 *   resyncing   some open, some down and reconnecting (the reason names the routes down)
 *   down        every socket down (reason: the last close reason)
 * `down` is the only unhealthy state: a route being down is already visible per symbol, and the
 * engine treats a `*` that is stale/down as every symbol of the venue unhealthy.
 * Published on every change of state or reason; the reason changes only on socket events (opens,
 * downs), never per message. Counters: reconnects summed over the venue's sockets; resyncs, gaps
 * and checksum failures summed over its symbols; lagMs the venue's clock offset (median).
 */

export interface ConnectionStatusOptions {
  venue: VenueId;
  bus: Bus;
  /** Route of each planned connection, indexed by connection id. */
  routes: readonly string[];
  now: () => number;
  totals(): { resyncs: number; gaps: number; checksumFailures: number };
  lagMs(): number | null;
}

type ConnState = { kind: 'pending' } | { kind: 'up' } | { kind: 'down'; reason: string };

export class ConnectionStatus {
  state: SyncState = 'connecting';
  reason = 'starting';
  reconnects = 0;
  private seq = 0;
  private readonly conns: ConnState[];
  private readonly key: string;

  constructor(private readonly o: ConnectionStatusOptions) {
    this.conns = o.routes.map(() => ({ kind: 'pending' }));
    this.key = streamKey(o.venue, '*');
    M.connectionState.set({ venue: o.venue }, 0);
  }

  /** The session started: announce what it is about to open. */
  start(): void {
    this.publish('connecting', `opening ${this.plural(this.conns.length)}`);
  }

  opened(conn: number, reconnect: boolean): void {
    if (reconnect) this.reconnects++;
    this.conns[conn] = { kind: 'up' };
    this.update();
  }

  down(conn: number, reason: string): void {
    this.conns[conn] = { kind: 'down', reason };
    this.update();
  }

  private plural(n: number): string {
    return `${n} connection${n === 1 ? '' : 's'}`;
  }

  private update(): void {
    const n = this.conns.length;
    const up = this.conns.filter((c) => c.kind === 'up').length;
    const downs = this.conns.flatMap((c, i) => (c.kind === 'down' ? [`${this.o.routes[i]}#${i}: ${c.reason}`] : []));
    const pending = n - up - downs.length;
    if (up === n) return this.publish('synced', `${up}/${n} up`);
    if (up === 0 && pending === 0) return this.publish('down', `all ${this.plural(n)} down; ${downs.join('; ')}`);
    if (up === 0) return this.publish('connecting', `0/${n} up${downs.length ? `; down: ${downs.join('; ')}` : ''}`);
    if (downs.length === 0) return this.publish('syncing', `${up}/${n} up`);
    return this.publish('resyncing', `${up}/${n} up; down: ${downs.join('; ')}`);
  }

  private publish(state: SyncState, reason: string): void {
    if (state === this.state && reason === this.reason && this.seq > 0) return;
    this.state = state;
    this.reason = reason;
    M.connectionState.set({ venue: this.o.venue }, SYNC_STATES.indexOf(state));
    const now = Math.trunc(this.o.now());
    const t = this.o.totals();
    const status: FeedStatus = {
      type: 'status',
      venue: this.o.venue,
      symbol: '*',
      ts: now,
      recvTs: now,
      seq: ++this.seq,
      state,
      reason,
      resyncs: t.resyncs,
      gaps: t.gaps,
      checksumFailures: t.checksumFailures,
      reconnects: this.reconnects,
      lagMs: this.o.lagMs(),
    };
    this.o.bus.publish('md.status', this.key, status);
    M.published.inc({ venue: this.o.venue, topic: 'md.status' });
  }
}
