import type { Level } from '@depthwatch/schemas';
import type { Channel, LiquidationMsg, ParseContext, StreamSpec, TickerMsg, TradeMsg, VenueAdapter, VenueMessage } from '../sync/adapter.ts';
import { VenueParseError } from '../sync/adapter.ts';
import { findMarket, type MarketInfo } from '../metadata/index.ts';
import { isoMs, num, obj, optNum, str, toBase } from './util.ts';

/**
 * BitMEX realtime (`/realtime`): tables `orderBookL2` (full depth; `partial` then insert/update/
 * delete keyed by `id`), `trade`, `liquidation`, `instrument`. No sequence numbers and no checksum:
 * rows before the `partial` are dropped, and an update/delete for an id we do not hold is
 * corruption, so that symbol's book is resubscribed. Rows recorded before 2023 carry only ids on
 * update/delete, so the adapter keeps an id → price map per symbol (per session: state lives in a
 * WeakMap keyed by the session's ParseContext, so parse() stays free of sockets and timers). The
 * per-symbol maps are bounded against hostile data: a book with more than BITMEX_MAX_BOOK_IDS ids is
 * corrupt (resubscribed), more than BITMEX_MAX_LIQUIDATION_ORDERS open liquidation orders too
 * (tracked orders forgotten); both are counted parse errors.
 *
 * Units: sizes are contracts. Inverse (XBTUSD, 1 USD per contract): base = contracts / price;
 * linear: base = contracts × contractSize.
 *
 * Liquidations: the `liquidation` table lists the engine's liquidation *orders*, not fills. A fill
 * is inferred from a decrease of `leavesQty`; a delete completes the order (its remaining quantity
 * is taken as executed). Published as `lower_bound`: an order that fills at once on entry may never
 * rest in the table, orders already resting at subscribe time were partly filled unseen, and a
 * disconnect loses the deltas in between.
 */

const ROUTE = '/realtime';
/** Topics per subscribe request (BitMEX accepts lists; kept small so one bad topic fails little). */
const SUBSCRIBE_BATCH = 20;
/** trdMatchIDs remembered per symbol to dedupe the trade `partial` after a resubscribe/reconnect. */
const SEEN_TRADES = 2000;
/**
 * Bound on the id → price map of one symbol's book. The largest recorded XBTUSD partial holds a few
 * thousand levels; a book claiming more than this is corrupt (or hostile): it is thrown away and
 * resubscribed like any other corruption, so the map cannot grow without limit.
 */
export const BITMEX_MAX_BOOK_IDS = 100_000;
/** Bound on open liquidation orders tracked per symbol (real figures: a handful at a time). */
export const BITMEX_MAX_LIQUIDATION_ORDERS = 10_000;

const TABLE_CHANNEL: Record<string, Channel> = { orderBookL2: 'book', trade: 'trade', liquidation: 'liquidation', instrument: 'ticker' };
const TABLE_RE = /"table":"(orderBookL2|trade|liquidation|instrument)"/;
const SYMBOL_RE = /"symbol":"([A-Za-z0-9_.]+)"/;

interface SymbolState {
  /** orderBookL2 (side, id) → price (the table's keys are symbol, id, side); null until the book partial arrived (rows are dropped). */
  ids: Map<string, number> | null;
  seen: Set<string>;
  orders: Map<string, { leavesQty: number; price: number; side: string }>;
  mark: number | null;
  openInterest: number | null;
}

const states = new WeakMap<ParseContext, Map<string, SymbolState>>();

function stateOf(ctx: ParseContext, symbol: string): SymbolState {
  let all = states.get(ctx);
  if (!all) states.set(ctx, (all = new Map()));
  let s = all.get(symbol);
  if (!s) all.set(symbol, (s = { ids: null, seen: new Set(), orders: new Map(), mark: null, openInterest: null }));
  return s;
}

export function bitmexVenueSymbol(symbol: string): string {
  const known = findMarket('bitmex', symbol)?.venueSymbol;
  if (known) return known;
  // BTC/USD:BTC → XBTUSD; ETH/USDT:USDT → ETHUSDT (BitMEX spells bitcoin XBT).
  const [pair] = symbol.split(':');
  return pair.replace('/', '').replace(/^BTC/, 'XBT');
}

/** Contracts → base units at `price`. */
function base(m: MarketInfo, contracts: number, price: number): number {
  return toBase(contracts, m.contractSize, m.inverse, price);
}

function rowsBySymbol(data: unknown, ctx: ParseContext): Map<string, Record<string, unknown>[]> {
  if (!Array.isArray(data)) throw new VenueParseError('data: not an array');
  const out = new Map<string, Record<string, unknown>[]>();
  for (const raw of data) {
    const row = obj(raw, 'row');
    const symbol = ctx.symbolOf(str(row.symbol, 'symbol'));
    if (!symbol) continue;
    const list = out.get(symbol);
    if (list) list.push(row);
    else out.set(symbol, [row]);
  }
  return out;
}

function latest(rows: Record<string, unknown>[], fallback: number, symbol: string, channel: Channel): number {
  let ts = 0;
  for (const r of rows) if (r.timestamp !== undefined) ts = Math.max(ts, isoMs(r.timestamp, 'timestamp', symbol, channel));
  return ts || fallback;
}

/** orderBookL2 row key: side and id. */
function key(row: Record<string, unknown>, symbol: string): string {
  return `${str(row.side, 'side', symbol, 'book')} ${num(row.id, 'id', symbol, 'book')}`;
}

function parseBook(action: string, symbol: string, rows: Record<string, unknown>[], ctx: ParseContext): VenueMessage[] {
  const st = stateOf(ctx, symbol);
  const m = ctx.market(symbol);
  // 2021 rows have no timestamp: the receive time stands in.
  const ts = latest(rows, ctx.recvTs, symbol, 'book');
  const bids: Level[] = [];
  const asks: Level[] = [];
  const add = (row: Record<string, unknown>, price: number, size: number) => (row.side === 'Buy' ? bids : asks).push([price, size === 0 ? 0 : base(m, size, price)]);
  if (action === 'partial') {
    if (rows.length > BITMEX_MAX_BOOK_IDS) {
      st.ids = null;
      throw new VenueParseError(`partial with ${rows.length} levels, more than a book can hold (${BITMEX_MAX_BOOK_IDS}): corrupt`, symbol, 'book');
    }
    const ids = new Map<string, number>();
    for (const row of rows) {
      const price = num(row.price, 'price', symbol, 'book');
      ids.set(key(row, symbol), price);
      add(row, price, num(row.size, 'size', symbol, 'book'));
    }
    st.ids = ids;
    return [{ kind: 'book_snapshot', symbol, ts, bids, asks, id: null }];
  }
  const ids = st.ids;
  if (ids === null) return []; // before the partial: meaningless
  for (const row of rows) {
    const id = key(row, symbol);
    if (action === 'insert') {
      const price = num(row.price, 'price', symbol, 'book');
      if (ids.size >= BITMEX_MAX_BOOK_IDS && !ids.has(id)) {
        st.ids = null; // rows are dropped until the next partial, as for an unknown id
        throw new VenueParseError(`insert of id ${id} would exceed ${BITMEX_MAX_BOOK_IDS} levels: corrupt book`, symbol, 'book');
      }
      ids.set(id, price);
      add(row, price, num(row.size, 'size', symbol, 'book'));
      continue;
    }
    const price = row.price !== undefined && row.price !== null ? num(row.price, 'price', symbol, 'book') : ids.get(id);
    if (price === undefined || !ids.has(id)) {
      // Corruption: drop the book until a new partial arrives (the framework resubscribes).
      st.ids = null;
      throw new VenueParseError(`${action} for unknown id ${id}`, symbol, 'book');
    }
    if (action === 'delete') {
      ids.delete(id);
      add(row, price, 0);
    } else if (action === 'update') add(row, price, num(row.size, 'size', symbol, 'book'));
    else throw new VenueParseError(`orderBookL2 action ${action}`, symbol, 'book');
  }
  // Inserts name new levels; updates and deletes must name levels the book holds.
  return [{ kind: 'book_diff', symbol, ts, bids, asks, first: null, last: null, prev: null, strict: action !== 'insert' }];
}

function parseTrades(symbol: string, rows: Record<string, unknown>[], ctx: ParseContext): VenueMessage[] {
  const st = stateOf(ctx, symbol);
  const m = ctx.market(symbol);
  const out: TradeMsg[] = [];
  for (const row of rows) {
    const id = str(row.trdMatchID, 'trdMatchID', symbol, 'trade');
    // The partial repeats recent trades: publish each trade once (missed ones after a reconnect are recovered).
    if (st.seen.has(id)) continue;
    st.seen.add(id);
    if (st.seen.size > SEEN_TRADES) st.seen.delete(st.seen.values().next().value!);
    const price = num(row.price, 'price', symbol, 'trade');
    const side = row.side === 'Buy' ? 'buy' : row.side === 'Sell' ? 'sell' : null;
    if (!side) throw new VenueParseError(`side ${JSON.stringify(row.side)}`, symbol, 'trade');
    out.push({ kind: 'trade', symbol, ts: isoMs(row.timestamp, 'timestamp', symbol, 'trade'), id, price, amount: base(m, num(row.size, 'size', symbol, 'trade'), price), side, liquidation: false });
  }
  return out;
}

function parseLiquidations(action: string, symbol: string, rows: Record<string, unknown>[], ctx: ParseContext): VenueMessage[] {
  const st = stateOf(ctx, symbol);
  const m = ctx.market(symbol);
  const out: LiquidationMsg[] = [];
  const emit = (orderID: string, o: { price: number; side: string }, filled: number, leaves: number) => {
    if (filled <= 0) return;
    out.push({
      kind: 'liquidation',
      symbol,
      ts: ctx.recvTs, // rows carry no time
      id: `${orderID}-${leaves}`,
      // The liquidation order's side: a Sell closes a long.
      liquidatedPosition: o.side === 'Sell' ? 'long' : 'short',
      price: o.price,
      amount: base(m, filled, o.price),
      notional: m.inverse ? filled * m.contractSize : base(m, filled, o.price) * o.price,
      completeness: 'lower_bound',
    });
  };
  for (const row of rows) {
    const orderID = str(row.orderID, 'orderID', symbol, 'liquidation');
    const known = st.orders.get(orderID);
    if (action === 'partial' || action === 'insert') {
      if (st.orders.size >= BITMEX_MAX_LIQUIDATION_ORDERS && !known) {
        // Not a real table: forget the resting orders (their later fills are unknowable, as for orders
        // resting before we subscribed) and count it as a parse error of the liquidation channel.
        st.orders.clear();
        throw new VenueParseError(`more than ${BITMEX_MAX_LIQUIDATION_ORDERS} open liquidation orders: corrupt table, tracked orders dropped`, symbol, 'liquidation');
      }
      st.orders.set(orderID, { leavesQty: num(row.leavesQty, 'leavesQty', symbol, 'liquidation'), price: num(row.price, 'price', symbol, 'liquidation'), side: str(row.side, 'side', symbol, 'liquidation') });
    } else if (action === 'update') {
      if (!known) continue; // resting before we subscribed and not in the partial: its fills are unknowable
      if (row.price !== undefined) known.price = num(row.price, 'price', symbol, 'liquidation');
      if (row.leavesQty === undefined) continue;
      const leaves = num(row.leavesQty, 'leavesQty', symbol, 'liquidation');
      emit(orderID, known, known.leavesQty - leaves, leaves);
      known.leavesQty = leaves;
    } else if (action === 'delete') {
      if (!known) continue;
      st.orders.delete(orderID);
      emit(orderID, known, known.leavesQty, 0);
    }
  }
  return out;
}

function parseInstrument(symbol: string, rows: Record<string, unknown>[], ctx: ParseContext): VenueMessage[] {
  const st = stateOf(ctx, symbol);
  const m = ctx.market(symbol);
  const out: TickerMsg[] = [];
  for (const row of rows) {
    // Updates carry only changed fields: undefined stays undefined (the framework merges).
    const field = (k: string) => (k in row ? optNum(row[k], k, symbol, 'ticker') : undefined);
    const mark = field('markPrice');
    const oi = field('openInterest');
    if (mark !== undefined) st.mark = mark;
    if (oi !== undefined) st.openInterest = oi;
    const next = row.fundingTimestamp === undefined ? undefined : row.fundingTimestamp === null ? null : isoMs(row.fundingTimestamp, 'fundingTimestamp', symbol, 'ticker');
    // Inverse open interest is USD: valued at the latest mark price, so recomputed when either changes.
    let openInterest: number | null | undefined;
    if (oi !== undefined || (m.inverse && mark !== undefined)) {
      const v = st.openInterest;
      openInterest = v === null ? null : m.inverse ? (st.mark ? base(m, v, st.mark) : null) : base(m, v, 1);
    }
    const t: TickerMsg = {
      kind: 'ticker',
      symbol,
      ts: row.timestamp !== undefined ? isoMs(row.timestamp, 'timestamp', symbol, 'ticker') : ctx.recvTs,
      markPrice: mark,
      indexPrice: field('indicativeSettlePrice'),
      lastPrice: field('lastPrice'),
      fundingRate: field('fundingRate'),
      nextFundingTime: next,
      openInterest,
    };
    out.push(t);
  }
  return out;
}

export function parseBitmex(text: string, ctx: ParseContext): VenueMessage[] {
  if (text === 'pong') return [{ kind: 'control', action: 'ignore', detail: 'pong' }];
  let msg: Record<string, unknown>;
  try {
    msg = obj(JSON.parse(text), 'frame');
  } catch (err) {
    // A book frame we cannot read leaves the id map unusable until the next partial.
    const guess = bitmex.identify(text);
    const symbol = guess?.channel === 'book' ? ctx.symbolOf(guess.venueSymbol) : undefined;
    if (symbol) stateOf(ctx, symbol).ids = null;
    throw err;
  }
  if (typeof msg.table === 'string') {
    // Own keys only: a `__proto__`/`constructor` table must not resolve to an Object.prototype member.
    const channel = Object.hasOwn(TABLE_CHANNEL, msg.table) ? TABLE_CHANNEL[msg.table] : undefined;
    if (!channel) return [{ kind: 'control', action: 'ignore', detail: msg.table }];
    const action = str(msg.action, 'action');
    const out: VenueMessage[] = [];
    // A partial for a symbol with no rows (empty book) still names it in `filter`.
    const bySymbol = rowsBySymbol(msg.data, ctx);
    const filter = typeof msg.filter === 'object' && msg.filter !== null ? (msg.filter as Record<string, unknown>).symbol : undefined;
    if (action === 'partial' && typeof filter === 'string') {
      const symbol = ctx.symbolOf(filter);
      if (symbol && !bySymbol.has(symbol)) bySymbol.set(symbol, []);
    }
    for (const [symbol, rows] of bySymbol) {
      if (channel === 'book') out.push(...parseBook(action, symbol, rows, ctx));
      else if (channel === 'trade') out.push(...parseTrades(symbol, rows, ctx));
      else if (channel === 'liquidation') out.push(...parseLiquidations(action, symbol, rows, ctx));
      else out.push(...parseInstrument(symbol, rows, ctx));
    }
    return out;
  }
  if (typeof msg.info === 'string') {
    // Welcome on a new connection: every book waits for its partial again.
    for (const s of states.get(ctx)?.values() ?? []) s.ids = null;
    return [{ kind: 'control', action: 'ignore', detail: 'welcome' }];
  }
  if (msg.success === true) {
    if (typeof msg.unsubscribe === 'string' && msg.unsubscribe.startsWith('orderBookL2:')) {
      const symbol = ctx.symbolOf(msg.unsubscribe.slice('orderBookL2:'.length));
      if (symbol) stateOf(ctx, symbol).ids = null;
    }
    return [{ kind: 'control', action: 'ignore', detail: 'ack' }];
  }
  if ('error' in msg) {
    const args = (msg.request as { args?: unknown[] } | undefined)?.args;
    const topic = Array.isArray(args) && args.length === 1 && typeof args[0] === 'string' ? args[0] : '';
    const [table, vs] = topic.split(':');
    return [{ kind: 'error', symbol: vs ? (ctx.symbolOf(vs) ?? null) : null, channel: Object.hasOwn(TABLE_CHANNEL, table) ? TABLE_CHANNEL[table] : null, reason: String(msg.error) }];
  }
  return [{ kind: 'control', action: 'ignore', detail: 'other' }];
}

const op = (name: 'subscribe' | 'unsubscribe', args: string[]) => JSON.stringify({ op: name, args });

export const bitmex: VenueAdapter = {
  venue: 'bitmex',
  defaultUrls: { rest: 'https://www.bitmex.com', ws: 'wss://ws.bitmex.com' },
  defaultSymbols: ['BTC/USD:BTC', 'ETH/USDT:USDT'],
  maxStreamsPerConnection: 200,
  // instrument updates arrive every few seconds (mark price); liquidations are sparse.
  staleAfterMs: { book: 30_000, trade: Infinity, liquidation: Infinity, ticker: 30_000 },
  // Docs: send `ping` when nothing arrived for 5 s, reconnect if no `pong` within 5 s more.
  heartbeat: { clientPing: { intervalMs: 5_000, frame: 'ping', onlyWhenIdle: true }, silenceTimeoutMs: 10_000 },
  sync: { bootstrap: 'in-band', depthLimit: 0, next: () => 'apply' },
  toVenueSymbol: bitmexVenueSymbol,
  streams(symbol, venueSymbol): StreamSpec[] {
    return [
      { symbol, channel: 'book', name: `orderBookL2:${venueSymbol}`, route: ROUTE },
      { symbol, channel: 'trade', name: `trade:${venueSymbol}`, route: ROUTE },
      { symbol, channel: 'liquidation', name: `liquidation:${venueSymbol}`, route: ROUTE },
      { symbol, channel: 'ticker', name: `instrument:${venueSymbol}`, route: ROUTE },
    ];
  },
  connectUrl: (wsBase, route) => `${wsBase.replace(/\/+$/, '')}${route}`,
  onOpen(_route, streams) {
    const out: string[] = [];
    for (let i = 0; i < streams.length; i += SUBSCRIBE_BATCH) out.push(op('subscribe', streams.slice(i, i + SUBSCRIBE_BATCH).map((s) => s.name)));
    return out;
  },
  resubscribe: (stream) => [op('unsubscribe', [stream.name]), op('subscribe', [stream.name])],
  parse: parseBitmex,
  identify(text) {
    const t = TABLE_RE.exec(text);
    const s = SYMBOL_RE.exec(text);
    return t && s ? { venueSymbol: s[1], channel: TABLE_CHANNEL[t[1]] } : null;
  },
};
