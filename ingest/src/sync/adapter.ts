import type { Level, LiquidationCompleteness, Side, VenueId } from '@depthwatch/schemas';
import type { OrderBook } from './order-book.ts';
import type { MarketInfo } from '../metadata/index.ts';

/**
 * The contract between the one sync framework (sync/) and a venue file (venues/<venue>.ts).
 * A venue file is pure: no sockets, no timers, no state across calls except what the framework
 * hands back. Everything time- or I/O-related (reconnects, pings, snapshot retries, staleness)
 * is owned by the framework so it behaves identically on every venue.
 */

export type Channel = 'book' | 'trade' | 'liquidation' | 'ticker';
export const CHANNELS: readonly Channel[] = ['book', 'trade', 'liquidation', 'ticker'];

/** One venue subscription for one symbol. */
export interface StreamSpec {
  symbol: string;
  channel: Channel;
  /** The venue's own stream/topic name (`btcusdt@depth@100ms`, `orderbook.200.BTCUSDT`, …). */
  name: string;
  /**
   * Connection group. Streams with different routes never share a socket (Binance USD-M routes
   * depth to `/public` and aggTrade/markPrice/forceOrder to `/market`; OKX splits public/business).
   */
  route: string;
}

// ---- Normalized messages a venue's parse() returns. Units are already ours: prices in quote,
// amounts in base with contract size applied, times in epoch ms.

export interface BookSnapshotMsg {
  kind: 'book_snapshot';
  symbol: string;
  ts: number;
  bids: Level[];
  asks: Level[];
  /** The venue's update id the snapshot reflects (Binance lastUpdateId, Bybit u, OKX seqId); null if none. */
  id: number | null;
  /** Venue checksum carried with the snapshot (Kraken v2 sends one on snapshots too). */
  checksum?: number | null;
}

export interface BookDiffMsg {
  kind: 'book_diff';
  symbol: string;
  ts: number;
  /** Absolute quantities; 0 deletes. */
  bids: Level[];
  asks: Level[];
  /** Venue sequencing, interpreted only by the venue's own SyncRules (Binance U/u/pu, OKX prevSeqId/seqId, Deribit prev_change_id/change_id). */
  first: number | null;
  last: number | null;
  prev: number | null;
  checksum?: number | null;
  /** Updates/deletes must name a level we hold (BitMEX update/delete rows); otherwise the book is corrupt. */
  strict?: boolean;
}

export interface TradeMsg {
  kind: 'trade';
  symbol: string;
  ts: number;
  id: string;
  price: number;
  amount: number;
  /** Aggressor (taker) side. */
  side: Side;
  liquidation: boolean;
}

export interface LiquidationMsg {
  kind: 'liquidation';
  symbol: string;
  ts: number;
  id: string;
  liquidatedPosition: 'long' | 'short';
  price: number;
  amount: number;
  /** Quote notional; defaults to price × amount when omitted (linear). Inverse venues supply it. */
  notional?: number;
  completeness: LiquidationCompleteness;
}

/**
 * A ticker update. A field left `undefined` is unchanged (Bybit tickers deltas, BitMEX instrument
 * updates): the framework keeps the merged state per symbol and always publishes full tickers.
 */
export interface TickerMsg {
  kind: 'ticker';
  symbol: string;
  ts: number;
  markPrice?: number | null;
  indexPrice?: number | null;
  lastPrice?: number | null;
  fundingRate?: number | null;
  nextFundingTime?: number | null;
  openInterest?: number | null;
}

/** Text to send back on the same socket (Deribit `test_request` → `public/test`). */
export interface ReplyMsg {
  kind: 'reply';
  text: string;
}

/**
 * Connection-wide sequence (Coinbase Advanced Trade `sequence_num`): the framework requires +1 per
 * message on the socket and resyncs every book on that socket on a gap.
 */
export interface ConnSeqMsg {
  kind: 'conn_seq';
  seq: number;
}

/** Venue control traffic: acks, pongs, heartbeats (`ignore`), or a request to reconnect now (Binance `serverShutdown`, OKX notice 64008). */
export interface ControlMsg {
  kind: 'control';
  action: 'ignore' | 'reconnect';
  detail?: string;
}

/** The venue reported an error for a subscription or a message could not be applied for a symbol. */
export interface VenueErrorMsg {
  kind: 'error';
  symbol: string | null;
  channel: Channel | null;
  reason: string;
}

export type VenueMessage =
  | BookSnapshotMsg
  | BookDiffMsg
  | TradeMsg
  | LiquidationMsg
  | TickerMsg
  | ReplyMsg
  | ConnSeqMsg
  | ControlMsg
  | VenueErrorMsg;

/** What parse() can look up; symbols are unified (`BTC/USDT:USDT`). */
export interface ParseContext {
  recvTs: number;
  /** Venue id → unified symbol, only for configured symbols; undefined means "not ours, ignore". */
  symbolOf(venueSymbol: string): string | undefined;
  market(symbol: string): MarketInfo;
}

/** Thrown by parse() (or the helpers in venues/util.ts) for a message it cannot apply. */
export class VenueParseError extends Error {
  constructor(
    message: string,
    readonly symbol: string | null = null,
    readonly channel: Channel | null = null,
  ) {
    super(message);
    this.name = 'VenueParseError';
  }
}

// ---- Book sync rules: the venue's gap rule as pure functions of ids.

export type NextVerdict = 'apply' | 'skip' | 'gap';
export type BridgeVerdict = 'apply' | 'skip' | 'snapshot_too_old';

export interface SyncRules {
  /**
   * `rest`: buffer diffs, fetch a REST snapshot, bridge (Binance, OKX without in-band snapshot).
   * `in-band`: the venue sends a snapshot after (re)subscribing; resync = resubscribe (Bybit, OKX,
   * Kraken, Coinbase, BitMEX, Deribit). `full`: every book message is a complete snapshot
   * (Hyperliquid): nothing to chain, nothing to resync.
   */
  bootstrap: 'rest' | 'in-band' | 'full';
  /** Decide on the first buffered diffs after a REST snapshot with id `snapshotId`. Required for `rest`. */
  bridge?(snapshotId: number, diff: BookDiffMsg): BridgeVerdict;
  /** Decide on every later diff given the id of the last applied update (null when the venue has no ids). */
  next(lastId: number | null, diff: BookDiffMsg): NextVerdict;
  /** The id to remember after applying `diff` (default: diff.last). */
  idAfter?(diff: BookDiffMsg): number | null;
  /**
   * An in-band snapshot arriving while synced replaces the book (Bybit re-sends one on trouble; Bybit
   * `u=1` is expressed by the adapter as a snapshot). Default true.
   */
  snapshotReplaces?: boolean;
  /** Levels per side the feed maintains; the framework truncates to it after every update (Kraken). 0 = full depth. */
  depthLimit: number;
}

export interface Heartbeat {
  /** Client keepalive: `ws-ping` sends a protocol ping frame; a string is sent as a text frame (OKX/BitMEX `ping`, Bybit `{"op":"ping"}`). */
  clientPing?: { intervalMs: number; frame: 'ws-ping' | string; onlyWhenIdle: boolean };
  /** Reconnect when nothing at all (data, pong, heartbeat) arrived for this long. */
  silenceTimeoutMs: number;
}

export interface RestSnapshot {
  /** Full URL for the symbol's snapshot given the configured REST base. */
  url(restBase: string, venueSymbol: string): string;
  parse(body: string, symbol: string, ctx: ParseContext): BookSnapshotMsg;
}

/** The ticker fields a polled channel may set (TickerMsg minus its header). */
export type TickerField = Exclude<keyof TickerMsg, 'kind' | 'symbol' | 'ts'>;

/**
 * A polled REST channel: data the venue publishes only over REST (Binance USD-M open interest).
 * The framework runs it per symbol (VenueSession / sync/rest-poller.ts): on its housekeeping tick,
 * at most `pollConcurrency` requests in flight per venue, alongside (never instead of) book
 * snapshots; the answer merges into the symbol's ticker, which is published whole. A failed or
 * unparseable poll is counted and logged; it never touches book sync or the feed's status.
 */
export interface RestPoll {
  /** Metric label and config key (`open_interest`). */
  readonly name: string;
  /** The ticker fields this poll sets; they are reset to null once no poll succeeded for `staleAfterMs`. */
  readonly fields: readonly TickerField[];
  /** Full URL for one symbol given the configured REST base. */
  url(restBase: string, venueSymbol: string): string;
  /** Default period between a symbol's polls (config can override per poll name). */
  readonly intervalMs: number;
  /** The venue's request weight for one call, against its per-IP budget (documented in the adapter). */
  readonly weight: number;
  /** Answer → ticker fields (others left undefined = unchanged). Throws VenueParseError on anything unusable. */
  parse(body: string, symbol: string, ctx: ParseContext): TickerMsg;
}

export interface VenueAdapter {
  readonly venue: VenueId;
  /** Real venue endpoints; config (and the simulator) override them. */
  readonly defaultUrls: { rest: string; ws: string };
  readonly defaultSymbols: readonly string[];
  /** Streams per socket the venue allows (stay under documented limits). */
  readonly maxStreamsPerConnection: number;
  /** Per-channel staleness: a book quiet for this long is stale; a quiet liquidation channel is normal (Infinity). */
  readonly staleAfterMs: Readonly<Record<Channel, number>>;
  readonly heartbeat: Heartbeat;
  readonly sync: SyncRules;
  /** REST snapshot endpoint; required when sync.bootstrap === 'rest'. */
  readonly restSnapshot?: RestSnapshot;
  /** Polled REST channels (data the venue has no stream for); run for symbols subscribed to the ticker channel. */
  readonly polls?: readonly RestPoll[];
  /** Whether the venue sends checksums (the framework verifies with `checksum` unless disabled in config). */
  checksum?(book: OrderBook, msg: BookDiffMsg | BookSnapshotMsg, market: MarketInfo): boolean | null;

  toVenueSymbol(symbol: string): string;
  /** Streams to subscribe for one symbol. */
  streams(symbol: string, venueSymbol: string): StreamSpec[];
  /** Socket URL for a batch of streams on one route (Binance puts them in the URL). */
  connectUrl(wsBase: string, route: string, streams: readonly StreamSpec[]): string;
  /** Messages sent right after open: subscribes, heartbeat setup (Deribit `set_heartbeat`). */
  onOpen(route: string, streams: readonly StreamSpec[]): string[];
  /** Messages that make the venue send a fresh in-band snapshot for one symbol's book (unsubscribe + subscribe). */
  resubscribe?(stream: StreamSpec): string[];
  /** Parse one text frame into zero or more normalized messages. Throws VenueParseError (or anything) when it cannot. */
  parse(text: string, ctx: ParseContext): VenueMessage[];
  /**
   * Best-effort (regex) guess of which venue symbol/channel an unparseable frame was about, so a
   * truncated book frame resyncs only its own symbol. null = unknown: every book on the socket resyncs.
   */
  identify(text: string): { venueSymbol: string; channel: Channel } | null;
}
