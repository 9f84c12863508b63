import type { Level } from '@depthwatch/schemas';
import { VenueParseError, type Channel } from '../sync/adapter.ts';

/** Helpers venue files share for defensive parsing: anything malformed becomes a VenueParseError. */

export function num(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.length > 0 ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new VenueParseError(`${what}: not a number (${describe(value)})`, symbol, channel);
  return n;
}

/**
 * A bad value for an error message: bounded, and never JSON.stringify of a hostile structure (a
 * deeply nested value overflows the stack, a huge one costs memory). Found by ingest/src/fuzz.
 */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value !== null && typeof value === 'object') return 'object';
  return String(value);
}

/** The valid JS Date range: a time outside it cannot be formatted, stored or compared sensibly. */
const MAX_EPOCH_MS = 8.64e15;

/** Integer epoch ms (schemas require integers), within 0 … the Date range. */
export function ms(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): number {
  const t = Math.trunc(num(value, what, symbol, channel));
  if (t < 0 || t > MAX_EPOCH_MS) throw new VenueParseError(`${what}: time out of range (${t})`, symbol, channel);
  return t;
}

/** RFC 3339 / ISO 8601 time (`2026-09-16T05:20:00.123456789Z`, Coinbase and Kraken v2) → integer epoch ms; digits past ms are dropped. */
export function isoMs(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): number {
  const t = typeof value === 'string' ? Date.parse(value) : NaN;
  if (!Number.isFinite(t) || t < 0) throw new VenueParseError(`${what}: not an RFC 3339 time after 1970 (${describe(value)})`, symbol, channel);
  return t;
}

export function optNum(value: unknown, what: string, symbol: string | null, channel: Channel): number | null {
  if (value === undefined || value === null || value === '') return null;
  return num(value, what, symbol, channel);
}

/** `[[price, qty], …]` (extra fields per level ignored) → levels, qty scaled by `multiplier`. */
export function levels(raw: unknown, what: string, symbol: string, multiplier = 1): Level[] {
  if (!Array.isArray(raw)) throw new VenueParseError(`${what}: not an array`, symbol, 'book');
  const out: Level[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const lv = raw[i] as unknown;
    if (!Array.isArray(lv) || lv.length < 2) throw new VenueParseError(`${what}[${i}]: not a level`, symbol, 'book');
    const p = num(lv[0], `${what}[${i}].price`, symbol, 'book');
    const q = num(lv[1], `${what}[${i}].qty`, symbol, 'book');
    if (q < 0 || p <= 0) throw new VenueParseError(`${what}[${i}]: negative`, symbol, 'book');
    out[i] = [p, toBase(q, multiplier)];
  }
  return out;
}

/** `[{<priceKey>, <qtyKey>, …}, …]` (Hyperliquid `{px, sz, n}`, Kraken v2 `{price, qty}`) → levels; other fields ignored. */
export function objectLevels(raw: unknown, what: string, symbol: string, priceKey: string, qtyKey: string): Level[] {
  if (!Array.isArray(raw)) throw new VenueParseError(`${what}: not an array`, symbol, 'book');
  return raw.map((lv, i) => {
    const o = obj(lv, `${what}[${i}]`);
    const p = num(o[priceKey], `${what}[${i}].${priceKey}`, symbol, 'book');
    const q = num(o[qtyKey], `${what}[${i}].${qtyKey}`, symbol, 'book');
    if (p <= 0 || q < 0) throw new VenueParseError(`${what}[${i}]: negative`, symbol, 'book');
    return [p, q] as Level;
  });
}

export function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new VenueParseError(`${what}: not an object`);
  return value as Record<string, unknown>;
}

export function str(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): string {
  if (typeof value !== 'string' || value.length === 0) throw new VenueParseError(`${what}: not a string`, symbol, channel);
  return value;
}

/**
 * Venue quantity → base units. Linear: contracts × contractSize; inverse (contractSize in quote):
 * contracts × contractSize / price. Rounded to 12 significant digits so 57 × 0.01 is 0.57, not
 * 0.5700000000000001 (books are compared and keyed by exact numbers).
 */
export function toBase(qty: number, contractSize: number, inverse = false, price = 1): number {
  if (contractSize === 1 && !inverse) return qty;
  const base = inverse ? (qty * contractSize) / price : qty * contractSize;
  // A hostile price (5e-324) or size (1e308) overflows: never let Infinity into a book.
  if (!Number.isFinite(base)) throw new VenueParseError(`size ${qty} at price ${price}: out of range`);
  return Number(base.toPrecision(12));
}

/** Base units → venue quantity (the inverse of toBase), rounded to 12 significant digits. */
export function fromBase(base: number, contractSize: number, inverse = false, price = 1): number {
  if (contractSize === 1 && !inverse) return base;
  const qty = inverse ? (base * price) / contractSize : base / contractSize;
  return Number(qty.toPrecision(12));
}

/**
 * A number as a plain decimal string without exponent or trailing zeros (`0.00000001`, `30261`),
 * the way OKX renders prices and sizes; `decimals` rounds first (lot/tick precision).
 */
export function plainDecimal(n: number, decimals = 12): string {
  const s = n.toFixed(decimals);
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/** Decimal places of a tick or lot size (0.001 → 3, 1e-8 → 8, 5 → 0). */
export function decimalsOf(step: number): number {
  const s = step.toString();
  if (s.includes('e-')) return Number(s.split('e-')[1]) + (s.split('e-')[0].split('.')[1]?.length ?? 0);
  return s.includes('.') ? s.split('.')[1].length : 0;
}
