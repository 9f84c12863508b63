import type { BookSnapshot, Bus, BusHandler, FeedStatus, SubscribeOptions, Ticker, Topic, TopicEvents } from '@depthwatch/schemas';

/** Passes subscribe/flush/close through; subclasses decide what reaches the inner bus. */
abstract class WrapBus implements Bus {
  constructor(protected readonly inner: Bus) {}
  abstract publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void;
  subscribe<T extends Topic>(topic: T, handler: BusHandler<T>, options?: SubscribeOptions): Promise<() => Promise<void>> {
    return this.inner.subscribe(topic, handler, options);
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** Only md.* events of the selected symbols reach the inner bus (the sessions still run every recorded symbol, so connections and ids stay exactly as recorded). */
export class SymbolFilterBus extends WrapBus {
  constructor(
    inner: Bus,
    private readonly symbols: ReadonlySet<string>,
  ) {
    super(inner);
  }
  publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void {
    const symbol = (event as { symbol?: string }).symbol;
    // '*' (a venue's connection status) concerns every symbol of the venue: it always passes.
    if (topic.startsWith('md.') && symbol !== undefined && symbol !== '*' && !this.symbols.has(symbol)) return;
    this.inner.publish(topic, key, event);
  }
}

interface KeyState {
  status: FeedStatus | null;
  ticker: Ticker | null;
  book: { bids: Map<number, number>; asks: Map<number, number>; last: { ts: number; recvTs: number; seq: number }; depthLimit: number; venue: string; symbol: string } | null;
}

/**
 * `from`: everything before it is replayed (at max speed) so books and ids are exactly as they
 * were, but held back here. When the gate opens, each stream's state at that instant is published
 * first — the last status, a book snapshot of the current book (carrying the seq of the last
 * held-back md.book event, so the next delta continues the sequence) and the last ticker — then
 * everything passes through. Trades and liquidations before `from` are not replayed.
 */
export class GateBus extends WrapBus {
  private opened = false;
  private readonly keys = new Map<string, KeyState>();
  /** Events held back before `from`, and state events published when the gate opened. */
  held = 0;
  stateEvents = 0;

  get isOpen(): boolean {
    return this.opened;
  }

  publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void {
    if (this.opened) {
      this.inner.publish(topic, key, event);
      return;
    }
    this.held++;
    let k = this.keys.get(key);
    if (!k) this.keys.set(key, (k = { status: null, ticker: null, book: null }));
    if (topic === 'md.status') {
      const s = event as FeedStatus;
      k.status = s;
      if (s.state !== 'synced' && s.state !== 'stale') k.book = null;
    } else if (topic === 'md.ticker') k.ticker = event as Ticker;
    else if (topic === 'md.book') {
      const e = event as TopicEvents['md.book'];
      const last = { ts: e.ts, recvTs: e.recvTs, seq: e.seq };
      if (e.type === 'book_snapshot') {
        k.book = { bids: new Map(e.bids), asks: new Map(e.asks), last, depthLimit: e.depthLimit, venue: e.venue, symbol: e.symbol };
      } else if (k.book) {
        for (const [p, q] of e.bids) q === 0 ? k.book.bids.delete(p) : k.book.bids.set(p, q);
        for (const [p, q] of e.asks) q === 0 ? k.book.asks.delete(p) : k.book.asks.set(p, q);
        k.book.last = last;
      }
    }
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    for (const [key, k] of this.keys) {
      if (k.status) this.emit('md.status', key, k.status);
      if (k.book) {
        const b = k.book;
        const snap: BookSnapshot = {
          type: 'book_snapshot',
          venue: b.venue as BookSnapshot['venue'],
          symbol: b.symbol,
          ts: b.last.ts,
          recvTs: b.last.recvTs,
          seq: b.last.seq,
          bids: [...b.bids].sort((x, y) => y[0] - x[0]),
          asks: [...b.asks].sort((x, y) => x[0] - y[0]),
          depthLimit: b.depthLimit,
        };
        this.emit('md.book', key, snap);
      }
      if (k.ticker) this.emit('md.ticker', key, k.ticker);
    }
    this.keys.clear();
  }

  private emit<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void {
    this.stateEvents++;
    this.inner.publish(topic, key, event);
  }
}
