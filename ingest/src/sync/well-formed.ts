import { CHANNELS, VenueParseError, type Channel, type VenueMessage } from './adapter.ts';

/**
 * The framework's check on what a venue adapter's parse() returned, before anything reaches a book
 * or the bus: finite numbers only, positive prices, non-negative sizes, times inside the Date range,
 * valid sides and enums. Adapters validate their own fields too; this is the one place that holds
 * for every venue (found by the parser fuzzers in ingest/src/fuzz: e.g. a negative trade price or
 * a negative mark price parsed as a number and would have been published).
 */

const SIDES = new Set(['buy', 'sell']);
const CHANNEL_SET = new Set<string>(CHANNELS);
/** Valid JS Date range: a time outside it cannot be formatted or stored. */
const MAX_TS = 8.64e15;

function finite(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n);
}

function isTs(n: unknown): boolean {
  return finite(n) && n >= 0 && n <= MAX_TS;
}

function levelProblems(levels: unknown, what: string, out: string[]): void {
  if (!Array.isArray(levels)) return void out.push(`${what}: not an array`);
  levels.forEach((lv, i) => {
    if (!Array.isArray(lv) || lv.length !== 2) return void out.push(`${what}[${i}]: not [price, qty]`);
    if (!finite(lv[0]) || lv[0] <= 0) out.push(`${what}[${i}] price ${lv[0]}`);
    if (!finite(lv[1]) || lv[1] < 0) out.push(`${what}[${i}] qty ${lv[1]}`);
  });
}

function optFinite(v: unknown): boolean {
  return v === undefined || v === null || finite(v);
}

/**
 * Problems with one normalized message (empty = well-formed): finite numbers only, positive prices,
 * non-negative sizes, times in the Date range, known symbols, valid sides and enums.
 */
export function messageProblems(m: VenueMessage, known?: ReadonlySet<string>): string[] {
  const out: string[] = [];
  const sym = (s: unknown) => {
    if (typeof s !== 'string' || s === '' || (known && !known.has(s))) out.push(`unknown symbol ${String(s)}`);
  };
  switch (m.kind) {
    case 'book_snapshot':
    case 'book_diff':
      sym(m.symbol);
      if (!isTs(m.ts)) out.push(`ts ${m.ts}`);
      levelProblems(m.bids, 'bids', out);
      levelProblems(m.asks, 'asks', out);
      if (m.kind === 'book_snapshot' && !optFinite(m.id)) out.push(`id ${m.id}`);
      if (m.kind === 'book_diff' && (!optFinite(m.first) || !optFinite(m.last) || !optFinite(m.prev))) out.push('ids not finite');
      if (!optFinite(m.checksum)) out.push(`checksum ${m.checksum}`);
      break;
    case 'trade':
      sym(m.symbol);
      if (!isTs(m.ts)) out.push(`ts ${m.ts}`);
      if (!finite(m.price) || m.price <= 0) out.push(`price ${m.price}`);
      if (!finite(m.amount) || m.amount < 0) out.push(`amount ${m.amount}`);
      if (!SIDES.has(m.side)) out.push(`side ${m.side}`);
      if (typeof m.id !== 'string' || m.id === '') out.push('id');
      if (typeof m.liquidation !== 'boolean') out.push('liquidation flag');
      break;
    case 'liquidation':
      sym(m.symbol);
      if (!isTs(m.ts)) out.push(`ts ${m.ts}`);
      if (!finite(m.price) || m.price <= 0) out.push(`price ${m.price}`);
      if (!finite(m.amount) || m.amount < 0) out.push(`amount ${m.amount}`);
      if (m.notional !== undefined && (!finite(m.notional) || m.notional < 0)) out.push(`notional ${m.notional}`);
      if (m.liquidatedPosition !== 'long' && m.liquidatedPosition !== 'short') out.push(`position ${m.liquidatedPosition}`);
      if (m.completeness !== 'complete' && m.completeness !== 'lower_bound') out.push(`completeness ${m.completeness}`);
      if (typeof m.id !== 'string' || m.id === '') out.push('id');
      break;
    case 'ticker':
      sym(m.symbol);
      if (!isTs(m.ts)) out.push(`ts ${m.ts}`);
      for (const k of ['markPrice', 'indexPrice', 'lastPrice'] as const) if (!optFinite(m[k]) || (finite(m[k]) && m[k] <= 0)) out.push(`${k} ${m[k]}`);
      if (!optFinite(m.fundingRate)) out.push(`fundingRate ${m.fundingRate}`);
      // An integer epoch ms (the ticker schema says integer): Bybit/OKX parse it with optNum, so 1e-300 or 1.5 got through (ingest/src/fuzz/feed.test.ts).
      if (!optFinite(m.nextFundingTime) || (finite(m.nextFundingTime) && (!isTs(m.nextFundingTime) || !Number.isInteger(m.nextFundingTime)))) out.push(`nextFundingTime ${m.nextFundingTime}`);
      if (!optFinite(m.openInterest) || (finite(m.openInterest) && m.openInterest < 0)) out.push(`openInterest ${m.openInterest}`);
      break;
    case 'reply':
      if (typeof m.text !== 'string') out.push('reply text');
      break;
    case 'conn_seq':
      if (!finite(m.seq)) out.push(`seq ${m.seq}`);
      break;
    case 'control':
      if (m.action !== 'ignore' && m.action !== 'reconnect') out.push(`action ${m.action}`);
      break;
    case 'error':
      if (typeof m.reason !== 'string') out.push('reason');
      if (m.symbol !== null) sym(m.symbol);
      if (m.channel !== null && !CHANNEL_SET.has(m.channel)) out.push(`channel ${String(m.channel)}`);
      break;
    default:
      out.push(`unknown kind ${(m as { kind: unknown }).kind}`);
  }
  return out;
}

const CHANNEL_OF_KIND: Partial<Record<VenueMessage['kind'], Channel>> = {
  book_snapshot: 'book',
  book_diff: 'book',
  trade: 'trade',
  liquidation: 'liquidation',
  ticker: 'ticker',
};

/** Throws a VenueParseError (with the message's symbol and channel) for the first malformed message. */
export function assertWellFormed(msgs: readonly VenueMessage[]): void {
  for (const m of msgs) {
    const problems = messageProblems(m);
    if (problems.length === 0) continue;
    const symbol = 'symbol' in m && typeof m.symbol === 'string' ? m.symbol : null;
    throw new VenueParseError(`malformed ${m.kind}: ${problems.slice(0, 3).join('; ')}`, symbol, CHANNEL_OF_KIND[m.kind] ?? null);
  }
}
