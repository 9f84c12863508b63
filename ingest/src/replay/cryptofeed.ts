import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { VenueId } from '@depthwatch/schemas';
import { readConfiguration, readRestResponses, readWsFrames } from '../fixtures/cryptofeed.ts';
import type { RawRecord } from '../sync/venue-session.ts';

/**
 * Importer for cryptofeed's recorded traffic (/work/shared/fixtures/cryptofeed, `<EX>.0`,
 * `<EX>.http.<n>.0`, `<EX>.ws.<n>.0`; parsed by fixtures/cryptofeed.ts) into our raw records, so
 * those recordings replay through the same adapters, book sync and pipeline as our own:
 *   - one `session` record (venue, symbols from the `configuration:` line, every channel; ticks are
 *     not recorded, so the replayer runs them on the replay clock);
 *   - each WebSocket connect → `open` for every planned connection (conn -1: cryptofeed used one
 *     socket where we may plan several), each received frame → `ws` on conn -1 (= our first);
 *   - each later REST response (`.http.<n>.0`: order-book snapshots) → `rest`; the start-up
 *     instrument lists in `<EX>.0` are not requested by a session and are left out.
 * Times are cryptofeed's receive times rounded to integer ms; records are merged in time order.
 */

export const CRYPTOFEED_VENUES: Readonly<Record<string, VenueId>> = {
  BINANCE_FUTURES: 'binance-futures',
  BINANCE: 'binance',
  OKX: 'okx',
  DERIBIT: 'deribit',
  BITMEX: 'bitmex',
  BYBIT: 'bybit',
};

/** A cryptofeed file name: `<EX>.0`, `<EX>.http.<n>.0`, `<EX>.ws.<n>.0`. */
export const CRYPTOFEED_FILE = /^([A-Z][A-Z0-9_]*)\.(?:0|http\.\d+\.0|ws\.\d+\.0)$/;

const MONTHS = 'FGHJKMNQUVXZ';

function expiry(code: string): string | null {
  // cryptofeed `21U24` = 2021-09-24
  const m = /^(\d\d)([FGHJKMNQUVXZ])(\d\d)$/.exec(code);
  if (!m) return null;
  return `${m[1]}${String(MONTHS.indexOf(m[2]) + 1).padStart(2, '0')}${m[3]}`;
}

const INVERSE_QUOTES = new Set(['USD']);

/**
 * cryptofeed symbol → ccxt unified symbol (best effort; pass `symbols` to importCryptofeed when
 * it guesses wrong): `NKN-USDT` → `NKN/USDT`, `SUSHI-USDT-PERP` → `SUSHI/USDT:USDT`,
 * `BTC-USD-PERP` → `BTC/USD:BTC`, `BTC-USD-22K27` → `BTC/USD:BTC-220527`,
 * `BTC-8000-21U24-put` → `BTC/USD:BTC-210924-8000-P`.
 */
export function unifiedFromCryptofeed(symbol: string): string | null {
  const p = symbol.split('-');
  if (p.length === 2) return `${p[0]}/${p[1]}`;
  if (p.length === 3) {
    const [base, quote, tail] = p;
    const settle = INVERSE_QUOTES.has(quote) ? base : quote;
    if (tail === 'PERP') return `${base}/${quote}:${settle}`;
    const exp = expiry(tail);
    return exp ? `${base}/${quote}:${settle}-${exp}` : null;
  }
  if (p.length === 4 && (p[3] === 'call' || p[3] === 'put')) {
    const exp = expiry(p[2]);
    return exp ? `${p[0]}/USD:${p[0]}-${exp}-${p[1]}-${p[3] === 'call' ? 'C' : 'P'}` : null;
  }
  return null;
}

export interface CryptofeedImportOptions {
  /** Unified symbols to subscribe (default: the configuration line's symbols, mapped). */
  symbols?: readonly string[];
  venue?: VenueId;
}

export interface CryptofeedImport {
  exchange: string;
  venue: VenueId;
  symbols: string[];
  records: RawRecord[];
}

/** Files of one exchange in `dir`, in the order the importer reads them. */
export function cryptofeedFiles(dir: string, exchange: string): { base: string | null; http: string[]; ws: string[] } {
  const names = readdirSync(dir).filter((n) => n.startsWith(`${exchange}.`) && CRYPTOFEED_FILE.test(n) && CRYPTOFEED_FILE.exec(n)![1] === exchange);
  const base = names.includes(`${exchange}.0`) ? join(dir, `${exchange}.0`) : null;
  return {
    base,
    http: names.filter((n) => n.includes('.http.')).sort().map((n) => join(dir, n)),
    ws: names.filter((n) => n.includes('.ws.')).sort().map((n) => join(dir, n)),
  };
}

export function importCryptofeed(dir: string, exchange: string, opts: CryptofeedImportOptions = {}): CryptofeedImport {
  const venue = opts.venue ?? CRYPTOFEED_VENUES[exchange];
  if (!venue) throw new Error(`cryptofeed exchange ${exchange}: unknown venue (pass opts.venue)`);
  const files = cryptofeedFiles(dir, exchange);
  let symbols = opts.symbols ? [...opts.symbols] : null;
  if (!symbols) {
    const conf = files.base && existsSync(files.base) ? readConfiguration(files.base) : null;
    if (!conf) throw new Error(`cryptofeed ${exchange}: no configuration line in ${exchange}.0; pass opts.symbols`);
    const all = [...new Set(Object.values(conf).flat())];
    symbols = [];
    for (const s of all) {
      const u = unifiedFromCryptofeed(s);
      if (!u) throw new Error(`cryptofeed ${exchange}: cannot map symbol ${s}; pass opts.symbols`);
      symbols.push(u);
    }
  }
  const timed: { ts: number; i: number; rec: RawRecord }[] = [];
  const push = (rec: RawRecord) => timed.push({ ts: rec.ts, i: timed.length, rec });
  for (const f of files.http) {
    for (const r of readRestResponses(f)) push({ kind: 'rest', venue, ts: Math.round(r.ts), url: r.url, ok: true, text: r.body });
  }
  for (const f of files.ws) {
    for (const r of readWsFrames(f)) {
      if (r.kind === 'connect') push({ kind: 'open', venue, ts: Math.round(r.ts), conn: -1, route: '', url: r.url, reconnect: false });
      else if (r.kind === 'recv') push({ kind: 'ws', venue, ts: Math.round(r.ts), conn: -1, route: '', text: r.text });
    }
  }
  timed.sort((a, b) => a.ts - b.ts || a.i - b.i);
  const first = timed.length ? timed[0].ts : 0;
  const session: RawRecord = { kind: 'session', venue, ts: first, config: { venue, symbols }, ticks: false };
  return { exchange, venue, symbols, records: [session, ...timed.map((t) => t.rec)] };
}

/** Groups cryptofeed file paths by (directory, exchange). */
export function cryptofeedGroups(paths: readonly string[]): { dir: string; exchange: string }[] {
  const out = new Map<string, { dir: string; exchange: string }>();
  for (const p of paths) {
    const m = CRYPTOFEED_FILE.exec(basename(p));
    if (!m) continue;
    const dir = dirname(p);
    out.set(`${dir}|${m[1]}`, { dir, exchange: m[1] });
  }
  return [...out.values()];
}
