/** Synthetic events and a collecting WebSocket client for the gateway tests (not used in production). */
import { WebSocket, type ClientOptions } from 'ws';
import { BAND_PCTS, CAPACITY_BPS, SLIPPAGE_NOTIONALS, type Alert, type BookDelta, type BookSnapshot, type DepthMetrics, type FeedStatus, type Level, type Liquidation, type SyncState, type Ticker, type Trade, type VenueId } from '@depthwatch/schemas';

export function depthEvent(venue: VenueId, symbol: string, mid: number, seq: number, opts: { ts?: number; depthScale?: number; spreadBps?: number } = {}): DepthMetrics {
  const spreadBps = opts.spreadBps ?? 1;
  const half = (mid * spreadBps) / 20_000;
  const scale = opts.depthScale ?? 1;
  return {
    type: 'depth',
    venue,
    symbol,
    ts: opts.ts ?? Date.now(),
    seq,
    bestBid: mid - half,
    bestAsk: mid + half,
    mid,
    microprice: mid,
    spreadBps,
    imbalance: 0.05,
    bidLevels: 500,
    askLevels: 500,
    bands: BAND_PCTS.map((pct) => ({
      pct,
      bidBase: pct * 10 * scale,
      askBase: pct * 9 * scale,
      bidQuote: pct * 10 * scale * mid,
      askQuote: pct * 9 * scale * mid,
      bidTruncated: false,
      askTruncated: pct === 10,
    })),
    slippage: SLIPPAGE_NOTIONALS.map((notional) => ({ notional, buyBps: notional / 1e5, sellBps: notional / 1e5 })),
    capacity: CAPACITY_BPS.map((bps) => ({ bps, buyQuote: bps * 1e4, sellQuote: bps * 1e4 })),
  };
}

export function levels(start: number, step: number, n: number, size = 1): Level[] {
  return Array.from({ length: n }, (_, i) => [start + i * step, size + i] as Level);
}

export function bookSnapshot(venue: VenueId, symbol: string, mid: number, n: number, seq = 1): BookSnapshot {
  return { type: 'book_snapshot', venue, symbol, ts: Date.now(), recvTs: Date.now(), seq, bids: levels(mid - 1, -1, n), asks: levels(mid + 1, 1, n), depthLimit: 0 };
}

export function bookDelta(venue: VenueId, symbol: string, seq: number, bids: Level[], asks: Level[]): BookDelta {
  return { type: 'book_delta', venue, symbol, ts: Date.now(), recvTs: Date.now(), seq, bids, asks };
}

export function tradeEvent(venue: VenueId, symbol: string, seq: number, price = 100, id = `t${seq}`): Trade {
  return { type: 'trade', venue, symbol, ts: Date.now(), recvTs: Date.now(), seq, id, price, amount: 0.5, side: 'buy', liquidation: false };
}

export function liquidationEvent(venue: VenueId, symbol: string, seq: number, notional = 250_000, ts = Date.now()): Liquidation {
  return {
    type: 'liquidation', venue, symbol, ts, recvTs: ts, seq, id: `l${seq}`, liquidatedPosition: 'long', price: 60_000, amount: notional / 60_000, notional, completeness: 'complete',
  };
}

export function tickerEvent(venue: VenueId, symbol: string, seq: number, markPrice = 100): Ticker {
  return { type: 'ticker', venue, symbol, ts: Date.now(), recvTs: Date.now(), seq, markPrice, indexPrice: markPrice, lastPrice: markPrice, fundingRate: 0.0001, nextFundingTime: null, openInterest: 1000 };
}

export function statusEvent(venue: VenueId, symbol: string, seq: number, state: SyncState = 'synced'): FeedStatus {
  return { type: 'status', venue, symbol, ts: Date.now(), recvTs: Date.now(), seq, state, reason: state === 'synced' ? '' : 'gap detected', resyncs: 0, gaps: 0, checksumFailures: 0, reconnects: 0, lagMs: 12 };
}

export function alertEvent(id: string, opts: Partial<Alert> = {}): Alert {
  const ts = Date.now();
  return {
    type: 'alert', id, kind: 'cascade', scope: 'asset', venue: '*', symbol: '*', asset: 'BTC', side: 'bid', stage: 'cascade', severity: 'critical', state: 'open',
    startTs: ts, ts, endTs: null, seq: 1,
    evidence: {
      liquidationNotional: 12_500_000, liquidationRate: 400_000, liquidationBaselineRate: 9_000, depth2Pct: 8_000_000, depth2PctBaseline: 30_000_000,
      spreadBps: 6.5, spreadBaselineBps: 0.8, priceMovePct: -2.4, venues: ['binance-futures', 'bybit'], lowerBoundVenues: ['binance-futures'], depthTruncated: false,
    },
    explanation: 'Long liquidation cascade: $12.5M liquidated in 60 s while bid depth within 2 % fell 73 % below baseline',
    ...opts,
  };
}

export type Msg = { type: string } & Record<string, unknown>;

/** Collects every message of every frame, checking the per-connection sequence. */
export class TestClient {
  readonly msgs: Msg[] = [];
  readonly frames: { cseq: number; n: number }[] = [];
  seqErrors = 0;
  /** Frames must be text frames (browsers would receive a Blob otherwise). */
  binaryFrames = 0;
  expected = 1;
  closeCode: number | null = null;
  closeReason = '';
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.binaryFrames++;
      const frame = JSON.parse(data.toString()) as { cseq: number; msgs: Msg[] };
      if (frame.cseq !== this.expected) this.seqErrors++;
      this.expected = frame.cseq + frame.msgs.length;
      this.frames.push({ cseq: frame.cseq, n: frame.msgs.length });
      this.msgs.push(...frame.msgs);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
    ws.on('error', () => {});
  }

  static async connect(baseUrl: string, opts: ClientOptions & { path?: string } = {}): Promise<TestClient> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + (opts.path ?? '/v1/stream'), { perMessageDeflate: false, ...opts });
    const c = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  of(type: string): Msg[] {
    return this.msgs.filter((m) => m.type === type);
  }

  /** Resolves with the first message (from index `from`) satisfying pred. */
  async waitFor(pred: (m: Msg) => boolean, timeoutMs = 3000, from = 0): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.msgs.slice(from).find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0 || this.closeCode !== null) throw new Error(`timed out waiting for a message; got: ${JSON.stringify(this.msgs.slice(from).map((m) => m.type))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a request and waits for the reply carrying the same reqId. */
  async request(obj: Record<string, unknown>, timeoutMs = 3000): Promise<Msg> {
    const reqId = `r${Math.random().toString(36).slice(2)}`;
    const from = this.msgs.length;
    this.send({ ...obj, reqId });
    return this.waitFor((m) => m.reqId === reqId, timeoutMs, from);
  }

  async closed(timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null) {
      if (Date.now() > deadline) throw new Error('connection did not close');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.terminate();
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
