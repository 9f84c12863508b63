import type { Level } from '@depthwatch/schemas';
import type { BookDiffMsg, BookSnapshotMsg, Channel, ParseContext, StreamSpec, VenueAdapter, VenueMessage } from '../sync/adapter.ts';
import { VenueParseError } from '../sync/adapter.ts';
import type { OrderBook } from '../sync/order-book.ts';
import { crc32 } from '../sync/crc32.ts';
import { findMarket, marketInfo, type MarketInfo } from '../metadata/index.ts';
import { decimalsOf, fromBase, levels, ms, num, obj, optNum, plainDecimal, str, toBase } from './util.ts';

/**
 * OKX v5, public socket `/ws/v5/public` (books, trades, liquidation-orders, funding-rate,
 * open-interest, mark-price, index-tickers). Derivative sizes are contracts: × ctVal for linear,
 * × ctVal / price for inverse (ctVal in USD).
 *
 * Book: `books` (400 levels, 100 ms; the venue sends removals for levels leaving its window).
 * Accept an update iff prevSeqId == the last seqId, then remember its seqId: that one rule covers
 * the idle heartbeat (empty sides, prevSeqId == seqId) and a post-maintenance reset (seqId <
 * prevSeqId). The in-band snapshot (prevSeqId -1) is used when it comes; since OKX announced its
 * removal, the bootstrap is REST `/api/v5/market/books?sz=400` bridged on seqId (drop updates with
 * seqId <= snapshot seqId; the first kept one has prevSeqId <= snapshot seqId), which is also how a
 * broken chain is repaired. CRC32 checksum over the top 25 levels interleaved
 * `bid:sz:ask:sz…` as a signed int32; OKX sends 0 since 2026-06, and 0 is not validated.
 */

const ROUTE = '/ws/v5/public';
/** Args per subscribe request (requests are capped at 64 KB; 480 subscribe ops per hour per connection). */
const ARGS_PER_REQUEST = 50;
export const OKX_BOOK_DEPTH = 400;
const CHECKSUM_DEPTH = 25;

const CHANNEL_OF: Record<string, Channel> = {
  books: 'book',
  trades: 'trade',
  'liquidation-orders': 'liquidation',
  'funding-rate': 'ticker',
  'open-interest': 'ticker',
  'mark-price': 'ticker',
  'index-tickers': 'ticker',
};

/** A subscription arg encoded as a stream name: `books:BTC-USDT-SWAP`, `liquidation-orders:SWAP`. */
function argOf(name: string): Record<string, string> {
  const i = name.indexOf(':');
  const channel = name.slice(0, i);
  const id = name.slice(i + 1);
  return channel === 'liquidation-orders' ? { channel, instType: id } : { channel, instId: id };
}

function requests(op: 'subscribe' | 'unsubscribe', names: readonly string[]): string[] {
  const unique = [...new Set(names)];
  const out: string[] = [];
  for (let i = 0; i < unique.length; i += ARGS_PER_REQUEST) {
    out.push(JSON.stringify({ id: `${op[0]}${i / ARGS_PER_REQUEST}`, op, args: unique.slice(i, i + ARGS_PER_REQUEST).map(argOf) }));
  }
  return out;
}

/** Venue size → base units (contracts × ctVal, or × ctVal / price for inverse). */
function baseAmount(m: MarketInfo, sz: number, price: number): number {
  return toBase(sz, m.contractSize, m.inverse, price);
}

function bookLevels(raw: unknown, what: string, symbol: string, m: MarketInfo): Level[] {
  const out = levels(raw, what, symbol);
  if (m.contractSize !== 1 || m.inverse) for (const lv of out) lv[1] = baseAmount(m, lv[1], lv[0]);
  return out;
}

/** `[{asks, bids, ts, checksum, prevSeqId, seqId}]` → snapshots or diffs. */
function bookMessages(action: unknown, data: unknown[], symbol: string, m: MarketInfo): (BookSnapshotMsg | BookDiffMsg)[] {
  return data.map((raw) => {
    const d = obj(raw, 'books data');
    const ts = ms(d.ts, 'ts', symbol, 'book');
    const bids = bookLevels(d.bids, 'bids', symbol, m);
    const asks = bookLevels(d.asks, 'asks', symbol, m);
    const seqId = optNum(d.seqId, 'seqId', symbol, 'book');
    const checksum = optNum(d.checksum, 'checksum', symbol, 'book');
    if (action === 'snapshot') return { kind: 'book_snapshot', symbol, ts, bids, asks, id: seqId, checksum };
    if (action !== 'update') throw new VenueParseError(`books action ${String(action)}`, symbol, 'book');
    return { kind: 'book_diff', symbol, ts, bids, asks, first: seqId, last: seqId, prev: optNum(d.prevSeqId, 'prevSeqId', symbol, 'book'), checksum };
  });
}

function rows(msg: Record<string, unknown>, symbol: string | null, channel: Channel): Record<string, unknown>[] {
  if (!Array.isArray(msg.data)) throw new VenueParseError('data: not an array', symbol, channel);
  return msg.data.map((d) => obj(d, 'data[]'));
}

export function parseOkx(text: string, ctx: ParseContext): VenueMessage[] {
  // The keepalive answer is the bare text `pong`, not JSON.
  if (text === 'pong') return [{ kind: 'control', action: 'ignore', detail: 'pong' }];
  const msg = obj(JSON.parse(text), 'frame');
  if (typeof msg.event === 'string') {
    if (msg.event === 'error') return [{ kind: 'error', symbol: null, channel: null, reason: `${String(msg.code)}: ${String(msg.msg)}` }];
    // 64008: "the service is about to be upgraded": reconnect before the venue drops us.
    if (msg.event === 'notice' && String(msg.code) === '64008') return [{ kind: 'control', action: 'reconnect', detail: `notice 64008: ${String(msg.msg)}` }];
    return [{ kind: 'control', action: 'ignore', detail: msg.event }];
  }
  const arg = obj(msg.arg, 'arg');
  const channel = str(arg.channel, 'arg.channel');
  if (channel === 'liquidation-orders') return parseLiquidations(msg, ctx);
  // index-tickers is keyed by the index (BTC-USDT): it prices the swap on that index.
  const instId = str(arg.instId, 'arg.instId');
  const symbol = ctx.symbolOf(channel === 'index-tickers' ? `${instId}-SWAP` : instId);
  if (!symbol) return [];
  const m = ctx.market(symbol);
  switch (channel) {
    case 'books':
      return bookMessages(msg.action, rows(msg, symbol, 'book'), symbol, m);
    case 'trades':
      return rows(msg, symbol, 'trade').map((t) => {
        const price = num(t.px, 'px', symbol, 'trade');
        const side = str(t.side, 'side', symbol, 'trade');
        if (side !== 'buy' && side !== 'sell') throw new VenueParseError(`side: ${side}`, symbol, 'trade');
        return {
          kind: 'trade' as const,
          symbol,
          ts: ms(t.ts, 'ts', symbol, 'trade'),
          id: str(t.tradeId, 'tradeId', symbol, 'trade'),
          price,
          amount: baseAmount(m, num(t.sz, 'sz', symbol, 'trade'), price),
          side,
          liquidation: false,
        };
      });
    case 'funding-rate':
      return rows(msg, symbol, 'ticker').map((d) => ({
        kind: 'ticker' as const,
        symbol,
        ts: ms(d.ts, 'ts', symbol, 'ticker'),
        fundingRate: optNum(d.fundingRate, 'fundingRate', symbol, 'ticker'),
        // fundingTime is the settlement the current rate applies to; nextFundingTime is the one after.
        nextFundingTime: optNum(d.fundingTime, 'fundingTime', symbol, 'ticker'),
      }));
    case 'open-interest':
      return rows(msg, symbol, 'ticker').map((d) => ({
        kind: 'ticker' as const,
        symbol,
        ts: ms(d.ts, 'ts', symbol, 'ticker'),
        // oiCcy is already in the base currency; oi is contracts.
        openInterest: optNum(d.oiCcy, 'oiCcy', symbol, 'ticker') ?? toBase(num(d.oi, 'oi', symbol, 'ticker'), m.contractSize),
      }));
    case 'mark-price':
      return rows(msg, symbol, 'ticker').map((d) => ({ kind: 'ticker' as const, symbol, ts: ms(d.ts, 'ts', symbol, 'ticker'), markPrice: num(d.markPx, 'markPx', symbol, 'ticker') }));
    case 'index-tickers':
      return rows(msg, symbol, 'ticker').map((d) => ({ kind: 'ticker' as const, symbol, ts: ms(d.ts, 'ts', symbol, 'ticker'), indexPrice: num(d.idxPx, 'idxPx', symbol, 'ticker') }));
    default:
      return [{ kind: 'control', action: 'ignore', detail: channel }];
  }
}

/** One message per instrument, every instrument of the instType: keep ours. */
function parseLiquidations(msg: Record<string, unknown>, ctx: ParseContext): VenueMessage[] {
  const out: VenueMessage[] = [];
  for (const row of rows(msg, null, 'liquidation')) {
    const instId = str(row.instId, 'instId', null, 'liquidation');
    const symbol = ctx.symbolOf(instId);
    if (!symbol) continue;
    const m = ctx.market(symbol);
    if (!Array.isArray(row.details)) throw new VenueParseError('details: not an array', symbol, 'liquidation');
    for (const raw of row.details) {
      const d = obj(raw, 'details[]');
      const side = str(d.side, 'side', symbol, 'liquidation');
      const posSide = typeof d.posSide === 'string' ? d.posSide : 'net';
      const sz = num(d.sz, 'sz', symbol, 'liquidation');
      const price = num(d.bkPx, 'bkPx', symbol, 'liquidation');
      const ts = ms(d.ts, 'ts', symbol, 'liquidation');
      out.push({
        kind: 'liquidation',
        symbol,
        ts,
        id: `${instId}-${ts}-${side}-${String(d.sz)}-${String(d.bkPx)}`,
        // side is the liquidation order's side: a sell closes a long (posSide long, or net in one-way mode).
        liquidatedPosition: posSide === 'long' || posSide === 'short' ? posSide : side === 'sell' ? 'long' : 'short',
        price,
        amount: baseAmount(m, sz, price),
        // Inverse contracts are worth ctVal USD each.
        notional: m.inverse ? sz * m.contractSize : undefined,
        // "doesn't represent the total number of liquidations"; sampled.
        completeness: 'lower_bound',
      });
    }
  }
  return out;
}

/** The string OKX checksums: up to 25 levels per side interleaved, the longer side continuing alone. */
export function okxChecksumString(bids: readonly (readonly [string, string])[], asks: readonly (readonly [string, string])[]): string {
  const parts: string[] = [];
  for (let i = 0; i < CHECKSUM_DEPTH; i++) {
    if (i < bids.length) parts.push(bids[i][0], bids[i][1]);
    if (i < asks.length) parts.push(asks[i][0], asks[i][1]);
  }
  return parts.join(':');
}

/** Signed CRC32 as OKX sends it. */
export function okxChecksum(text: string): number {
  return crc32(text) | 0;
}

/** Our book back in OKX's strings: prices at tick precision, sizes in venue units at lot precision, no trailing zeros. */
function venueStrings(book: OrderBook, side: 'bid' | 'ask', m: MarketInfo): [string, string][] {
  const pd = m.tickSize ? decimalsOf(m.tickSize) : 12;
  const qd = m.lotSize ? decimalsOf(m.lotSize) : 12;
  return book.sorted(side, CHECKSUM_DEPTH).map(([p, q]) => [plainDecimal(p, pd), plainDecimal(fromBase(q, m.contractSize, m.inverse, p), qd)]);
}

export function parseOkxRestBook(body: string, symbol: string, ctx: ParseContext): BookSnapshotMsg {
  const msg = obj(JSON.parse(body), 'books response');
  if (String(msg.code) !== '0') throw new VenueParseError(`books error ${String(msg.code)}: ${String(msg.msg)}`, symbol, 'book');
  const [snap] = bookMessages('snapshot', rows(msg, symbol, 'book'), symbol, ctx.market(symbol)) as BookSnapshotMsg[];
  if (!snap) throw new VenueParseError('books response without data', symbol, 'book');
  // Without a seqId the snapshot cannot be bridged to the stream (announced for the endpoint, not confirmed).
  if (snap.id === null) throw new VenueParseError('books response without seqId', symbol, 'book');
  return snap;
}

const ARG_RE = /"arg":\{"channel":"([a-z-]+)","instId":"([A-Z0-9-]+)"/;

export const okx: VenueAdapter = {
  venue: 'okx',
  defaultUrls: { rest: 'https://www.okx.com', ws: 'wss://ws.okx.com:8443' },
  defaultSymbols: ['BTC/USDT:USDT', 'ETH/USDT:USDT', 'BTC/USDT'],
  // Fewer than 30 depth-400 channels per connection: 7 streams per swap, so ≤ 14 books here.
  maxStreamsPerConnection: 100,
  // An idle book gets a heartbeat update every ~60 s; mark-price pushes at least every 10 s.
  staleAfterMs: { book: 75_000, trade: Infinity, liquidation: Infinity, ticker: 30_000 },
  // Text `ping` when nothing arrived for 20 s (the venue drops a socket silent for 30 s).
  heartbeat: { clientPing: { intervalMs: 20_000, frame: 'ping', onlyWhenIdle: true }, silenceTimeoutMs: 45_000 },
  sync: {
    bootstrap: 'rest',
    depthLimit: 0,
    bridge(snapSeq, d) {
      if (d.last === null || d.prev === null) return 'apply';
      if (d.last <= snapSeq) return 'skip';
      return d.prev <= snapSeq ? 'apply' : 'snapshot_too_old';
    },
    next(last, d) {
      // Recordings from before seqId carry none: nothing to chain (the checksum still guards).
      if (last === null || d.prev === null) return 'apply';
      return d.prev === last ? 'apply' : 'gap';
    },
  },
  restSnapshot: {
    url: (rest, vs) => `${rest.replace(/\/+$/, '')}/api/v5/market/books?instId=${vs}&sz=${OKX_BOOK_DEPTH}`,
    parse: parseOkxRestBook,
  },
  checksum(book, msg, m) {
    // 0: OKX stopped computing it (2026-06); nothing to validate.
    if (!msg.checksum) return null;
    return okxChecksum(okxChecksumString(venueStrings(book, 'bid', m), venueStrings(book, 'ask', m))) === msg.checksum;
  },
  toVenueSymbol(symbol) {
    const known = findMarket('okx', symbol)?.venueSymbol;
    if (known) return known;
    const [pair, settle] = symbol.split(':');
    return pair.replace('/', '-') + (settle ? '-SWAP' : '');
  },
  streams(symbol, vs): StreamSpec[] {
    const m = marketInfo('okx', symbol, vs);
    const own = (channel: Channel, name: string): StreamSpec => ({ symbol, channel, name, route: ROUTE });
    const out = [own('book', `books:${vs}`), own('trade', `trades:${vs}`)];
    if (m.type === 'spot') return out;
    const index = vs.split('-').slice(0, 2).join('-');
    out.push(own('liquidation', `liquidation-orders:${m.type === 'future' ? 'FUTURES' : 'SWAP'}`), own('ticker', `mark-price:${vs}`), own('ticker', `open-interest:${vs}`));
    if (m.type === 'swap') out.push(own('ticker', `funding-rate:${vs}`), own('ticker', `index-tickers:${index}`));
    return out;
  },
  connectUrl: (wsBase, route) => `${wsBase.replace(/\/+$/, '')}${route}`,
  onOpen: (_route, streams) => requests('subscribe', streams.map((s) => s.name)),
  resubscribe: (stream) => [...requests('unsubscribe', [stream.name]), ...requests('subscribe', [stream.name])],
  parse: parseOkx,
  identify(text) {
    const m = ARG_RE.exec(text);
    // Own keys only: `"channel":"constructor"` must not resolve to Object.prototype.constructor.
    if (!m || !Object.hasOwn(CHANNEL_OF, m[1])) return null;
    return { venueSymbol: m[1] === 'index-tickers' ? `${m[2]}-SWAP` : m[2], channel: CHANNEL_OF[m[1]] };
  },
};
