import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { VenueId } from '@depthwatch/schemas';
import { CHANNELS, type VenueMessage } from '../sync/adapter.ts';
import { assertWellFormed } from '../sync/well-formed.ts';
import { VENUES } from '../venues/index.ts';
import { FUZZ_RUNS, FUZZ_VENUES, GOOD, fuzzContext, hostileFrames, messageProblems, nonFinite, reportCases, restSeedsFor, runProperty, seedsFor, timed, type FuzzContext } from './support.ts';

/**
 * Property-based tests of every venue adapter's parse(), identify() and REST snapshot parser with
 * hostile input derived from real message shapes. The contract (ingest/src/sync/adapter.ts):
 * parse either returns messages or throws an Error — it never hangs, never lets NaN/Infinity out,
 * never names a symbol we did not configure; whatever survives the framework's check
 * (sync/well-formed.ts, applied by VenueSession before anything reaches a book or the bus) is
 * well-formed. Case count per property: DEPTHWATCH_FUZZ_RUNS.
 */

const SUITE = 'ingest-parsers';
/** Generous: the unit suite shares 2 loaded cores; a real hang or quadratic blow-up takes seconds. */
const PARSE_LIMIT_MS = 1500;
const DATA_KINDS = new Set(['book_snapshot', 'book_diff', 'trade', 'liquidation', 'ticker']);
const KINDS = new Set([...DATA_KINDS, 'reply', 'conn_seq', 'control', 'error']);

/** What must hold for parse() output even before the framework's check. */
function structureProblems(msgs: unknown, ctx: FuzzContext): string[] {
  if (!Array.isArray(msgs)) return ['parse() did not return an array'];
  const out = nonFinite(msgs).map((p) => `non-finite number ${p}`);
  for (const m of msgs as VenueMessage[]) {
    if (!m || typeof m !== 'object' || !KINDS.has(m.kind)) {
      out.push(`unknown message ${JSON.stringify(m)?.slice(0, 80)}`);
      continue;
    }
    if (DATA_KINDS.has(m.kind) && !ctx.known.has((m as { symbol: string }).symbol)) out.push(`${m.kind} for unconfigured symbol ${String((m as { symbol: unknown }).symbol)}`);
    if (m.kind === 'trade' && m.side !== 'buy' && m.side !== 'sell') out.push(`trade side ${String(m.side)}`);
    if (m.kind === 'liquidation' && m.liquidatedPosition !== 'long' && m.liquidatedPosition !== 'short') out.push(`liquidation position ${String(m.liquidatedPosition)}`);
    if (m.kind === 'book_snapshot' || m.kind === 'book_diff') {
      for (const side of [m.bids, m.asks]) if (!Array.isArray(side) || side.some((lv) => !Array.isArray(lv) || lv.length !== 2)) out.push(`${m.kind} levels not [price, qty] pairs`);
    }
  }
  return out;
}

/** One hostile frame through parse() and the framework check; fails the case on any broken promise. */
function checkFrame(venue: VenueId, ctx: FuzzContext, text: string): void {
  const adapter = VENUES[venue]!;
  let msgs: VenueMessage[];
  try {
    msgs = timed(`${venue} parse`, PARSE_LIMIT_MS, () => adapter.parse(text, ctx));
  } catch (err) {
    if (err instanceof Error && /took \d+ ms/.test(err.message)) throw err;
    // Anything thrown must be an Error: VenueSession counts it as a parse error and resyncs.
    expect(err).toBeInstanceOf(Error);
    return;
  }
  const problems = structureProblems(msgs, ctx);
  if (problems.length) throw new Error(`${venue} parse(${text.slice(0, 300)}) → ${problems.join('; ')}`);
  let accepted = true;
  try {
    assertWellFormed(msgs);
  } catch {
    accepted = false; // rejected by the framework: counted as a parse error, never published
  }
  if (accepted) {
    for (const m of msgs) {
      const p = messageProblems(m, ctx.known);
      if (p.length) throw new Error(`${venue}: accepted malformed ${m.kind}: ${p.join('; ')}`);
    }
  }
}

/** A frame `factor` times larger: every level list (or data array) repeated. */
function oversized(seed: string, factor: number): string {
  const grow = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.length > 0 && v.length < 50 ? Array.from({ length: v.length * factor }, (_, i) => v[i % v.length]) : v.map(grow);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, grow(x)]));
    return v;
  };
  try {
    return JSON.stringify(grow(JSON.parse(seed)));
  } catch {
    return seed.repeat(factor);
  }
}

describe('venue parser fuzzing', () => {
  for (const venue of FUZZ_VENUES) {
    describe(venue, () => {
      const adapter = VENUES[venue]!;

      it('parse(): hostile frames give well-formed messages or an Error — no NaN, no hang, no foreign symbol', async () => {
        // One context for the whole run: adapters with per-session state (BitMEX id maps) see the sequence.
        const ctx = fuzzContext(venue);
        await runProperty(SUITE, `${venue} parse`, hostileFrames(seedsFor(venue)), (text) => checkFrame(venue, ctx, text));
      });

      it('parse(): every seed truncated at every position', () => {
        const ctx = fuzzContext(venue);
        let cases = 0;
        for (const seed of seedsFor(venue)) {
          if (seed.length > 1500) continue;
          for (let i = 0; i <= seed.length; i++, cases++) checkFrame(venue, ctx, seed.slice(0, i));
        }
        reportCases(SUITE, `${venue} truncation`, cases);
        expect(cases).toBeGreaterThan(0);
      });

      it('parse(): oversized frames (levels × up to 2000, hostile values inside) stay bounded in time', async () => {
        const ctx = fuzzContext(venue);
        const seeds = seedsFor(venue).filter((s) => s.length < 1500);
        const arb = fc.tuple(fc.constantFrom(...seeds), fc.integer({ min: 50, max: 2000 })).chain(([s, factor]) => hostileFrames([oversized(s, factor)]));
        await runProperty(SUITE, `${venue} oversized`, arb, (text) => checkFrame(venue, ctx, text), Math.max(3, Math.ceil(FUZZ_RUNS / 20)));
      });

      it('identify(): never throws, answers null or a real channel, in bounded time', async () => {
        const channels = new Set<string>(CHANNELS);
        await runProperty(SUITE, `${venue} identify`, hostileFrames(seedsFor(venue)), (text) => {
          const got = timed(`${venue} identify`, PARSE_LIMIT_MS, () => adapter.identify(text));
          if (got === null) return;
          expect(typeof got.venueSymbol).toBe('string');
          expect(channels.has(got.channel), `identify → channel ${String(got.channel)} for ${text.slice(0, 120)}`).toBe(true);
        });
        // Regression: an unbounded lazy regex made Binance's identify() quadratic (seconds for 200 KB).
        const quadratic = '"e":"trade"'.repeat(20_000);
        timed(`${venue} identify (repeated keys)`, PARSE_LIMIT_MS, () => adapter.identify(quadratic));
        // Regression: OKX resolved `"channel":"constructor"` to Object.prototype.constructor.
        expect(adapter.identify('{"arg":{"channel":"constructor","instId":"BTC-USDT-SWAP"},"data":[')).toBeNull();
      });

      if (adapter.restSnapshot) {
        it('REST snapshot parser: hostile bodies give a bridgeable well-formed snapshot or an Error', async () => {
          const ctx = fuzzContext(venue);
          const symbol = GOOD[venue].symbol;
          await runProperty(SUITE, `${venue} rest`, hostileFrames(restSeedsFor(venue)), (body) => {
            let snap;
            try {
              snap = timed(`${venue} rest parse`, PARSE_LIMIT_MS, () => adapter.restSnapshot!.parse(body, symbol, ctx));
            } catch (err) {
              if (err instanceof Error && /took \d+ ms/.test(err.message)) throw err;
              expect(err).toBeInstanceOf(Error);
              return;
            }
            expect(structureProblems([snap], ctx)).toEqual([]);
            expect(snap.kind).toBe('book_snapshot');
            try {
              assertWellFormed([snap]);
            } catch {
              return;
            }
            expect(messageProblems(snap, ctx.known)).toEqual([]);
          });
        });
      }
    });
  }
});

describe('fuzz findings (regressions)', () => {
  const ctx = (v: VenueId) => fuzzContext(v);

  it('a hostile price/size that overflows a contract conversion throws instead of putting Infinity in the book', () => {
    const partial = JSON.stringify({ table: 'orderBookL2', action: 'partial', filter: { symbol: 'XBTUSD' }, data: [{ symbol: 'XBTUSD', id: 1, side: 'Buy', size: 100, price: 5e-324 }] });
    expect(() => VENUES.bitmex!.parse(partial, ctx('bitmex'))).toThrow(/out of range/);
    const deribit = JSON.stringify({ jsonrpc: '2.0', method: 'subscription', params: { channel: 'book.BTC-PERPETUAL.100ms', data: { type: 'snapshot', timestamp: 1, change_id: 1, bids: [['new', 5e-324, 1e300]], asks: [] } } });
    expect(() => VENUES.deribit!.parse(deribit, ctx('deribit'))).toThrow(/out of range/);
  });

  it('times outside the Date range are rejected (a later toISOString would throw)', () => {
    const trade = (T: unknown) => JSON.stringify({ e: 'aggTrade', E: 1, s: 'BTCUSDT', a: 1, p: '1', q: '1', T, m: true });
    expect(() => VENUES['binance-futures']!.parse(trade(1e300), ctx('binance-futures'))).toThrow(/time out of range/);
    expect(() => VENUES['binance-futures']!.parse(trade(-1), ctx('binance-futures'))).toThrow(/time out of range/);
    expect(VENUES['binance-futures']!.parse(trade(1758000000000), ctx('binance-futures'))).toHaveLength(1);
  });

  it('error messages never JSON.stringify a hostile value (deep nesting overflowed the stack)', () => {
    const deep = '['.repeat(50_000) + ']'.repeat(50_000);
    const text = `{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":${deep},"q":"1","T":1,"m":true}`;
    expect(() => VENUES['binance-futures']!.parse(text, ctx('binance-futures'))).toThrow(/p: not a number \(array\(1\)\)/);
  });

  it('BitMEX: a `__proto__`/`constructor` table is ignored, not parsed as an instrument table', () => {
    for (const table of ['constructor', 'toString', '__proto__']) {
      expect(VENUES.bitmex!.parse(`{"table":"${table}","action":"update","data":[{"symbol":"XBTUSD","markPrice":-5}]}`, ctx('bitmex'))).toEqual([{ kind: 'control', action: 'ignore', detail: table }]);
    }
  });

  it('the framework check rejects what adapters parse as numbers but no market can have', () => {
    // Negative trade price (Binance takes any finite number), zero mark price (Hyperliquid), negative size (Coinbase trade).
    const bad: [VenueId, string][] = [
      ['binance-futures', '{"e":"aggTrade","E":1,"s":"BTCUSDT","a":1,"p":"-1","q":"1","T":1,"m":true}'],
      ['hyperliquid', '{"channel":"activeAssetCtx","data":{"coin":"BTC","ctx":{"funding":"0","openInterest":"1","oraclePx":"1","markPx":"0"}}}'],
      ['coinbase', '{"channel":"market_trades","timestamp":"2026-09-16T05:20:00Z","sequence_num":1,"events":[{"type":"update","trades":[{"trade_id":"1","product_id":"BTC-USD","price":"1","size":"-0.5","side":"BUY","time":"2026-09-16T05:20:00Z"}]}]}'],
      // A fractional next-funding time (the feed fuzzer published a schema-invalid ticker before the check covered it).
      ['bybit', '{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT","markPrice":"1","nextFundingTime":1e-300},"cs":1,"ts":1}'],
      ['okx', '{"arg":{"channel":"funding-rate","instId":"BTC-USDT-SWAP"},"data":[{"fundingRate":"0.0001","fundingTime":"1758009600000.5","ts":"1758000000000"}]}'],
    ];
    for (const [venue, text] of bad) {
      const msgs = VENUES[venue]!.parse(text, ctx(venue));
      expect(() => assertWellFormed(msgs)).toThrow(/malformed/);
    }
  });
});
