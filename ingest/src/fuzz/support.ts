/**
 * Shared pieces of the venue fuzzers (ingest/src/fuzz/*.test.ts): seed frames per venue, mutation
 * arbitraries (drop/retype fields, hostile numbers, prototype keys, deep nesting, long strings,
 * truncation, random text) and the well-formedness checker every parse() output must pass.
 *
 * Case counts: DEPTHWATCH_FUZZ_RUNS (per property; default small so the unit suite stays fast);
 * `npm run drills` raises it and collects the totals written to DEPTHWATCH_FUZZ_REPORT.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { VenueId } from '@depthwatch/schemas';
import type { ParseContext, VenueAdapter, VenueMessage } from '../sync/adapter.ts';
import { messageProblems } from '../sync/well-formed.ts';
import { marketInfo, marketsOf } from '../metadata/index.ts';
import { FIXTURES_DIR, readRestResponses, readWsFrames } from '../fixtures/cryptofeed.ts';
import { VENUES } from '../venues/index.ts';
import { TEST_SEEDS } from './test-seeds.ts';

export const FUZZ_RUNS = Math.max(1, Number(process.env.DEPTHWATCH_FUZZ_RUNS) || 120);

/** Cases run per property, reported by the drills script (file given by DEPTHWATCH_FUZZ_REPORT). */
export function reportCases(suite: string, property: string, cases: number): void {
  const file = process.env.DEPTHWATCH_FUZZ_REPORT;
  if (file) appendFileSync(file, JSON.stringify({ suite, property, cases }) + '\n');
}

/** Cases per synchronous fast-check run: between chunks the worker's event loop breathes (vitest RPC heartbeats). */
const CHUNK = 2000;

/**
 * Runs one property with fast-check and reports how many cases it generated. Large runs are split
 * into chunks with distinct seeds so a million-case drill never blocks the test worker for minutes.
 */
export async function runProperty<T>(suite: string, property: string, arb: fc.Arbitrary<T>, check: (value: T) => void, runs = FUZZ_RUNS): Promise<void> {
  let cases = 0;
  const seed = Number(process.env.DEPTHWATCH_FUZZ_SEED) || Date.now() % 2 ** 31;
  try {
    for (let done = 0, i = 0; done < runs; done += CHUNK, i++) {
      fc.assert(
        fc.property(arb, (v) => {
          cases++;
          check(v);
        }),
        { numRuns: Math.min(CHUNK, runs - done), seed: seed + i, endOnFailure: false },
      );
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    reportCases(suite, property, cases);
  }
}

// ---- venues and contexts

export const FUZZ_VENUES = Object.keys(VENUES) as VenueId[];

export interface FuzzContext extends ParseContext {
  known: ReadonlySet<string>;
}

/**
 * A session-like context: every market of the venue in the shipped metadata (linear, inverse and
 * contract-sized ones) maps to its unified symbol, anything else is "not ours". A fresh context is
 * a fresh session (BitMEX keeps per-context id maps).
 */
export function fuzzContext(venue: VenueId, recvTs = 1758000000300): FuzzContext {
  const adapter = VENUES[venue]!;
  const bySymbolVenue = new Map<string, string>();
  for (const m of marketsOf(venue)) bySymbolVenue.set(m.venueSymbol, m.symbol);
  for (const s of adapter.defaultSymbols) bySymbolVenue.set(adapter.toVenueSymbol(s), s);
  if (venue === 'binance') bySymbolVenue.set('BNBBTC', 'BNB/BTC');
  return {
    recvTs,
    known: new Set(bySymbolVenue.values()),
    // A Map, as in VenueSession: `__proto__`/`constructor` are never symbols.
    symbolOf: (vs) => bySymbolVenue.get(vs),
    market: (s) => marketInfo(venue, s),
  };
}

// ---- known-good frames per venue (also the feed scenario: snapshot, then a chained diff)

export interface GoodFrames {
  /** In-band snapshot frame (or, for REST venues, the REST body). */
  snapshot: string;
  snapshotIsRest: boolean;
  /** A diff (or, for full-book venues, the next full book) that applies on top of `snapshot`. */
  diff: string;
  /** Symbol those frames are about. */
  symbol: string;
  /** More real frames of other channels (trades, tickers, liquidations, control). */
  others: string[];
}

const J = JSON.stringify;

export const GOOD: Record<string, GoodFrames> = {
  binance: {
    symbol: 'BTC/USDT',
    snapshotIsRest: true,
    snapshot: J({ lastUpdateId: 100, bids: [['114999.90', '1.5'], ['114999.00', '2']], asks: [['115000.10', '0.7'], ['115001.00', '3']] }),
    diff: J({ stream: 'btcusdt@depth@100ms', data: { e: 'depthUpdate', E: 1758000000100, s: 'BTCUSDT', U: 101, u: 101, b: [['114999.90', '0'], ['114999.50', '4']], a: [['115000.10', '0.9']] } }),
    others: [J({ stream: 'btcusdt@trade', data: { e: 'trade', E: 1758000000200, s: 'BTCUSDT', t: 12345, p: '115000.10', q: '0.010', T: 1758000000199, m: false } }), J({ result: null, id: 1 })],
  },
  'binance-futures': {
    symbol: 'BTC/USDT:USDT',
    snapshotIsRest: true,
    snapshot: J({ lastUpdateId: 100, E: 1758000000000, T: 1758000000000, bids: [['114999.90', '1.5'], ['114999.00', '2']], asks: [['115000.10', '0.7']] }),
    diff: J({ stream: 'btcusdt@depth@100ms', data: { e: 'depthUpdate', E: 1758000000100, T: 1758000000099, s: 'BTCUSDT', U: 99, u: 101, pu: 98, b: [['114999.90', '0'], ['114999.50', '4']], a: [['115000.10', '0.9']] } }),
    others: [],
  },
  bybit: {
    symbol: 'BTC/USDT:USDT',
    snapshotIsRest: false,
    snapshot: J({ topic: 'orderbook.200.BTCUSDT', type: 'snapshot', ts: 1758000000000, data: { s: 'BTCUSDT', b: [['114999.9', '1.5'], ['114999.0', '2']], a: [['115000.1', '0.7']], u: 500, seq: 1 }, cts: 1758000000000 }),
    diff: J({ topic: 'orderbook.200.BTCUSDT', type: 'delta', ts: 1758000000100, data: { s: 'BTCUSDT', b: [['114999.9', '0'], ['114999.5', '4']], a: [['115000.1', '0.9']], u: 501, seq: 2 }, cts: 1758000000099 }),
    others: [],
  },
  coinbase: {
    symbol: 'BTC/USD',
    snapshotIsRest: false,
    snapshot: J({ channel: 'l2_data', client_id: '', timestamp: '2026-09-16T05:20:00.000Z', sequence_num: 1, events: [{ type: 'snapshot', product_id: 'BTC-USD', updates: [{ side: 'bid', event_time: '1970-01-01T00:00:00Z', price_level: '114999.9', new_quantity: '1.5' }, { side: 'offer', event_time: '1970-01-01T00:00:00Z', price_level: '115000.1', new_quantity: '0.7' }] }] }),
    diff: J({ channel: 'l2_data', client_id: '', timestamp: '2026-09-16T05:20:00.200Z', sequence_num: 2, events: [{ type: 'update', product_id: 'BTC-USD', updates: [{ side: 'bid', event_time: '2026-09-16T05:20:00.199Z', price_level: '114999.9', new_quantity: '0' }, { side: 'bid', event_time: '2026-09-16T05:20:00.199Z', price_level: '114999.5', new_quantity: '4' }, { side: 'offer', event_time: '2026-09-16T05:20:00.199Z', price_level: '115000.1', new_quantity: '0.9' }] }] }),
    others: [],
  },
  kraken: {
    symbol: 'BTC/USD',
    snapshotIsRest: false,
    snapshot: J({ channel: 'book', type: 'snapshot', data: [{ symbol: 'BTC/USD', bids: [{ price: 114999.9, qty: 1.5 }, { price: 114999, qty: 2 }], asks: [{ price: 115000.1, qty: 0.7 }], timestamp: '2026-09-16T05:20:00.000Z' }] }),
    diff: J({ channel: 'book', type: 'update', data: [{ symbol: 'BTC/USD', bids: [{ price: 114999.9, qty: 0 }, { price: 114999.5, qty: 4 }], asks: [{ price: 115000.1, qty: 0.9 }], timestamp: '2026-09-16T05:20:00.100Z' }] }),
    others: [],
  },
  bitmex: {
    symbol: 'BTC/USD:BTC',
    snapshotIsRest: false,
    snapshot: J({ table: 'orderBookL2', action: 'partial', keys: ['symbol', 'id', 'side'], filter: { symbol: 'XBTUSD' }, data: [{ symbol: 'XBTUSD', id: 1, side: 'Buy', size: 150000, price: 114999.5 }, { symbol: 'XBTUSD', id: 2, side: 'Buy', size: 200000, price: 114999 }, { symbol: 'XBTUSD', id: 3, side: 'Sell', size: 70000, price: 115000.5 }] }),
    diff: J({ table: 'orderBookL2', action: 'update', data: [{ symbol: 'XBTUSD', id: 1, side: 'Buy', size: 90000, price: 114999.5, timestamp: '2026-09-16T05:20:00.100Z' }] }),
    others: [
      J({ table: 'orderBookL2', action: 'insert', data: [{ symbol: 'XBTUSD', id: 4, side: 'Sell', size: 1000, price: 115001, timestamp: '2026-09-16T05:20:00.100Z' }] }),
      J({ table: 'orderBookL2', action: 'delete', data: [{ symbol: 'XBTUSD', id: 2, side: 'Buy' }] }),
      J({ table: 'trade', action: 'insert', data: [{ timestamp: '2026-09-16T05:20:00.100Z', symbol: 'XBTUSD', side: 'Buy', size: 100, price: 115000.5, trdMatchID: '00000000-006d-1000-0000-000a5a0e8f1b' }] }),
      J({ table: 'liquidation', action: 'insert', data: [{ orderID: 'abc', symbol: 'XBTUSD', side: 'Sell', price: 114000, leavesQty: 5000 }] }),
      J({ table: 'liquidation', action: 'update', data: [{ orderID: 'abc', symbol: 'XBTUSD', leavesQty: 2000 }] }),
      J({ table: 'liquidation', action: 'delete', data: [{ orderID: 'abc', symbol: 'XBTUSD' }] }),
      J({ table: 'instrument', action: 'update', data: [{ symbol: 'XBTUSD', markPrice: 115000.2, openInterest: 500000000, fundingRate: 0.0001, fundingTimestamp: '2026-09-16T08:00:00.000Z', timestamp: '2026-09-16T05:20:00.000Z' }] }),
      'pong',
    ],
  },
  deribit: {
    symbol: 'BTC/USD:BTC',
    snapshotIsRest: false,
    snapshot: J({ jsonrpc: '2.0', method: 'subscription', params: { channel: 'book.BTC-PERPETUAL.100ms', data: { type: 'snapshot', timestamp: 1758000000000, instrument_name: 'BTC-PERPETUAL', change_id: 10, bids: [['new', 114999.5, 150000], ['new', 114999, 200000]], asks: [['new', 115000.5, 70000]] } } }),
    diff: J({ jsonrpc: '2.0', method: 'subscription', params: { channel: 'book.BTC-PERPETUAL.100ms', data: { type: 'change', timestamp: 1758000000100, instrument_name: 'BTC-PERPETUAL', change_id: 11, prev_change_id: 10, bids: [['delete', 114999, 0], ['change', 114999.5, 90000]], asks: [['new', 115001, 1000]] } } }),
    others: [
      J({ jsonrpc: '2.0', method: 'subscription', params: { channel: 'trades.BTC-PERPETUAL.100ms', data: [{ trade_seq: 1, trade_id: '123', timestamp: 1758000000200, tick_direction: 0, price: 115000, mark_price: 115000.1, instrument_name: 'BTC-PERPETUAL', index_price: 114999, direction: 'sell', amount: 1000, liquidation: 'MT' }] } }),
      J({ jsonrpc: '2.0', method: 'subscription', params: { channel: 'ticker.BTC-PERPETUAL.100ms', data: { timestamp: 1758000000300, mark_price: 115000.1, index_price: 114999, last_price: 115000, funding_8h: 0.0001, open_interest: 900000000 } } }),
    ],
  },
  hyperliquid: {
    symbol: 'BTC/USDC:USDC',
    snapshotIsRest: false,
    snapshot: J({ channel: 'l2Book', data: { coin: 'BTC', time: 1758000000000, levels: [[{ px: '114999', sz: '1.5', n: 3 }, { px: '114998', sz: '2', n: 1 }], [{ px: '115000', sz: '0.7', n: 2 }]] } }),
    diff: J({ channel: 'l2Book', data: { coin: 'BTC', time: 1758000000500, levels: [[{ px: '114999', sz: '1.2', n: 3 }], [{ px: '115000', sz: '0.9', n: 2 }, { px: '115001', sz: '3', n: 1 }]] } }),
    others: [],
  },
  okx: {
    symbol: 'BTC/USDT:USDT',
    snapshotIsRest: true,
    snapshot: J({ code: '0', msg: '', data: [{ asks: [['115000.1', '70', '0', '2']], bids: [['114999.9', '150', '0', '3'], ['114999', '200', '0', '1']], ts: '1758000000000', seqId: 100 }] }),
    diff: J({ arg: { channel: 'books', instId: 'BTC-USDT-SWAP' }, action: 'update', data: [{ asks: [['115000.1', '90', '0', '2']], bids: [['114999.9', '0', '0', '0'], ['114999.5', '400', '0', '1']], ts: '1758000000100', checksum: 0, prevSeqId: 100, seqId: 101 }] }),
    others: [],
  },
};

/** Up to `max` short real frames per cryptofeed recording (different shapes first), when the fixtures are present. */
function fixtureFrames(file: string, max: number): string[] {
  const path = join(FIXTURES_DIR, file);
  if (!existsSync(path)) return [];
  const out: string[] = [];
  const shapes = new Set<string>();
  for (const r of readWsFrames(path)) {
    if (r.kind !== 'recv' || r.text.length > 3000) continue;
    const shape = r.text.replace(/[0-9.]+/g, '0').slice(0, 60);
    if (shapes.has(shape)) continue;
    shapes.add(shape);
    out.push(r.text);
    if (out.length >= max) break;
  }
  return out;
}

const FIXTURE_FILES: Partial<Record<VenueId, string>> = {
  binance: 'BINANCE.ws.1.0',
  'binance-futures': 'BINANCE_FUTURES.ws.1.0',
  bitmex: 'BITMEX.ws.1.0',
  deribit: 'DERIBIT.ws.1.0',
  okx: 'OKX.ws.1.0',
};

const seedCache = new Map<VenueId, string[]>();

/** Every seed frame for a venue: good scenario frames, the unit tests' shapes, recorded frames. */
export function seedsFor(venue: VenueId): string[] {
  let s = seedCache.get(venue);
  if (s) return s;
  const g = GOOD[venue];
  const shared = venue === 'binance-futures' ? TEST_SEEDS.binance : (TEST_SEEDS[venue] ?? []);
  const file = FIXTURE_FILES[venue];
  s = [...(g.snapshotIsRest ? [] : [g.snapshot]), g.diff, ...g.others, ...shared, ...(file ? fixtureFrames(file, 40) : [])];
  seedCache.set(venue, s);
  return s;
}

/** REST snapshot bodies (good one + a recorded Binance depth body, truncated to keep cases fast). */
export function restSeedsFor(venue: VenueId): string[] {
  const g = GOOD[venue];
  const out = [g.snapshot];
  if (venue === 'binance' || venue === 'binance-futures') {
    const path = join(FIXTURES_DIR, venue === 'binance' ? 'BINANCE.http.0.0' : 'BINANCE_FUTURES.http.0.0');
    if (existsSync(path)) {
      const body = readRestResponses(path).find((r) => r.url.includes('/depth'))?.body;
      if (body) {
        const d = JSON.parse(body) as { lastUpdateId: number; bids: unknown[]; asks: unknown[] };
        out.push(J({ ...d, bids: d.bids.slice(0, 30), asks: d.asks.slice(0, 30) }));
      }
    }
  }
  return out;
}

// ---- mutations

/** Values that break naive parsers: hostile numbers, numbers as strings, wrong types, prototype keys. */
const HOSTILE_SCALARS: unknown[] = [
  null, true, false, 0, -0, -1, -1e-9, 1e308, -1e308, 5e-324, 1e21, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER,
  '', ' ', '0', '-0', '-1', '-0.0001', 'NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '1e308', '5e-324', '0x10', '1_000', '1e', '.', '+1',
  '\u0000', '\ud800', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'buy', 'sell', 'Buy', 'Sell', 'BUY', 'SELL', 'bid', 'offer', 'A', 'B',
  'snapshot', 'update', 'delta', 'partial', 'insert', 'delete', 'change', 'new', '2026-09-16T05:20:00Z', '+275760-09-13T00:00:00.000Z', '-271821-04-20T00:00:00.000Z',
  [], {}, [[]], [['1']], [['1', '1', '1']], [[null, null]], [['NaN', '1']], [['1', 'Infinity']], [['-1', '1']], [['1', '-1']], [['5e-324', '1e308']],
  [{ price: 'NaN', qty: 1 }], [{ px: '1e400', sz: '1' }], { __proto__: null }, { constructor: { prototype: { polluted: true } } },
];

/** A JSON value nested `depth` levels (arrays or objects). */
function nested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = [], out: Path[] = [], limit = 400): Path[] {
  if (out.length >= limit) return out;
  out.push(prefix);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...prefix, i], out, limit));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) paths(v, [...prefix, k], out, limit);
  return out;
}

interface Op {
  at: number;
  kind: number;
  pick: number;
  text: string;
  n: number;
}

function replacement(op: Op, current: unknown): unknown {
  switch (op.kind % 9) {
    case 0:
      return HOSTILE_SCALARS[op.pick % HOSTILE_SCALARS.length];
    case 1: // retype: number ↔ string
      return typeof current === 'number' ? String(current) : typeof current === 'string' && current !== '' && Number.isFinite(Number(current)) ? Number(current) : op.text;
    case 2: // scale a number into a hostile range
      return typeof current === 'number' || (typeof current === 'string' && Number.isFinite(Number(current)))
        ? [-1, 1e300, -1e300, 1e-300, 0, Number(current) * -1][op.pick % 6]
        : op.text;
    case 3:
      return op.text;
    case 4: // long string
      return 'x'.repeat(1000 + (op.n % 100_000));
    case 5: // deep nesting (parsed from text so JSON.stringify/parse handle it the same way the venue's would)
      return { __deep: op.n % 2 ? 'array' : 'object', depth: 100 + (op.n % 5000) };
    case 6: // prototype-pollution keys
      return JSON.parse(`{"__proto__":{"polluted":1,"e":"depthUpdate","table":"orderBookL2"},"constructor":{"prototype":{"polluted":1}}}`);
    case 7: // wrap
      return [current];
    default:
      return undefined; // drop
  }
}

const DEEP = /"__deep":"(array|object)","depth":(\d+)/;

function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  let node = root as Record<string | number, unknown>;
  for (let i = 0; i < path.length - 1; i++) node = node[path[i]] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else node[last] = value;
  return root;
}

/** Applies structural mutations to a seed frame; returns the mutated frame text. */
export function mutate(seed: string, ops: readonly Op[], renameKey: boolean): string {
  let root: unknown;
  try {
    root = JSON.parse(seed);
  } catch {
    return seed + (ops[0]?.text ?? '');
  }
  for (const op of ops) {
    const ps = paths(root);
    const path = ps[op.at % ps.length];
    let cur: unknown = root;
    for (const k of path) cur = (cur as Record<string | number, unknown>)[k];
    if (renameKey && path.length > 0 && typeof path[path.length - 1] === 'string') {
      // Rename the key to a prototype name: `{"__proto__": …}` as an own key in JSON text.
      const parent = path.slice(0, -1);
      let p: unknown = root;
      for (const k of parent) p = (p as Record<string | number, unknown>)[k];
      const o = p as Record<string, unknown>;
      const name = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty'][op.pick % 5];
      const v = o[path[path.length - 1] as string];
      delete o[path[path.length - 1] as string];
      Object.defineProperty(o, name, { value: v, enumerable: true, configurable: true, writable: true });
      continue;
    }
    root = setAt(root, path, replacement(op, cur));
  }
  let text = JSON.stringify(root) ?? 'null';
  // Expand deep-nesting markers into real nested JSON text.
  for (let m = DEEP.exec(text); m; m = DEEP.exec(text)) {
    const start = text.lastIndexOf('{', m.index);
    const end = text.indexOf('}', m.index) + 1;
    // A later op may have scaled the depth itself: clamp it.
    text = text.slice(0, start) + nested(Math.min(Number(m[2]) || 10, 6000), m[1] as 'array' | 'object') + text.slice(end);
  }
  return text;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  at: fc.nat(),
  kind: fc.nat(),
  pick: fc.nat(),
  text: fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('"', '\\', '}', ']', '{"', '\u2028')),
  n: fc.nat(),
});

/** Hostile frames derived from `seeds`: mutated, truncated at any position, spliced, random JSON or text. */
export function hostileFrames(seeds: readonly string[]): fc.Arbitrary<string> {
  const seed = fc.constantFrom(...seeds);
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(seed, fc.array(opArb, { minLength: 1, maxLength: 4 }), fc.boolean()).map(([s, ops, rename]) => mutate(s, ops, rename && ops[0].kind % 4 === 0)) },
    { weight: 2, arbitrary: fc.tuple(seed, fc.nat()).map(([s, n]) => s.slice(0, n % (s.length + 1))) },
    { weight: 1, arbitrary: fc.tuple(seed, fc.nat(), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 })).map(([s, n, c]) => { const i = n % (s.length + 1); return s.slice(0, i) + c + s.slice(i + 1); }) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('', 'pong', 'null', '[]', '{}', '"x"', '1e999', nested(20_000, 'array'), nested(5000, 'object'))) },
  );
}

/** Every non-finite number anywhere in a value (NaN, ±Infinity). */
export function nonFinite(value: unknown, path = '$', out: string[] = []): string[] {
  if (typeof value === 'number' && !Number.isFinite(value)) out.push(`${path}=${value}`);
  else if (Array.isArray(value)) value.forEach((v, i) => nonFinite(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) nonFinite(v, `${path}.${k}`, out);
  return out;
}

/** Calls fn, failing the case when it takes longer than `limitMs` (a hang or super-linear blow-up). */
export function timed<T>(what: string, limitMs: number, fn: () => T): T {
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const dt = performance.now() - t0;
    if (dt > limitMs) throw new Error(`${what} took ${dt.toFixed(0)} ms (limit ${limitMs} ms)`);
  }
}

export { messageProblems };
export type { VenueAdapter };
