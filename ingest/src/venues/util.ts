import type { Level } from '@depthwatch/schemas';
import { VenueParseError, type Channel } from '../sync/adapter.ts';

/** Helpers venue files share for defensive parsing: anything malformed becomes a VenueParseError. */

export function num(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.length > 0 ? Number(value) : NaN;
  if (!Number.isFinite(n)) throw new VenueParseError(`${what}: not a number (${JSON.stringify(value)})`, symbol, channel);
  return n;
}

/** Integer epoch ms (schemas require integers). */
export function ms(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): number {
  return Math.trunc(num(value, what, symbol, channel));
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
    out[i] = [p, multiplier === 1 ? q : q * multiplier];
  }
  return out;
}

export function obj(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new VenueParseError(`${what}: not an object`);
  return value as Record<string, unknown>;
}

export function str(value: unknown, what: string, symbol: string | null = null, channel: Channel | null = null): string {
  if (typeof value !== 'string' || value.length === 0) throw new VenueParseError(`${what}: not a string`, symbol, channel);
  return value;
}
