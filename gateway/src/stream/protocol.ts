import { VENUE_ID_HELP, compileSerializer, describeErrors, isUnifiedSymbol, isVenueId, sharedAjv, type Level, type VenueId } from '@depthwatch/schemas';

/** Channels a client can subscribe to, and the `type` of the messages each delivers. */
export const CHANNELS = ['depth', 'book', 'trades', 'liquidations', 'tickers', 'alerts', 'status'] as const;
export type Channel = (typeof CHANNELS)[number];
export const CHANNEL_MESSAGE_TYPE: Record<Channel, string> = {
  depth: 'depth',
  book: 'book',
  trades: 'trade',
  liquidations: 'liquidation',
  tickers: 'ticker',
  alerts: 'alert',
  status: 'status',
};
/** Channels whose pending update for a stream is replaced by a newer one (latest value wins). */
export const CONFLATED_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['depth', 'book', 'tickers', 'status']);

export function isChannel(v: unknown): v is Channel {
  return typeof v === 'string' && (CHANNELS as readonly string[]).includes(v);
}

export type ErrorCode =
  | 'bad_json'
  | 'bad_request'
  | 'unknown_op'
  | 'unknown_channel'
  | 'bad_filter'
  | 'message_too_large'
  | 'too_many_subscriptions'
  | 'rate_limited'
  | 'unknown_subscription'
  | 'slow_consumer';

export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly reqId: string | number | null = null,
  ) {
    super(message);
  }
}

/** Normalized subscription filter: OR within a list, AND across lists. */
export interface Filter {
  channels: Channel[];
  venues: string[];
  symbols: string[];
  assets: string[];
  depth: number;
}

export type ClientRequest =
  | { op: 'subscribe'; reqId: string | number | null; filter: Filter }
  | { op: 'unsubscribe'; reqId: string | number | null; id: number | null; filter: Filter | null }
  | { op: 'ping'; reqId: string | number | null };

const list = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 64 } } as const;
const requestSchema = {
  type: 'object',
  properties: {
    op: { type: 'string' },
    reqId: { anyOf: [{ type: 'string', maxLength: 64 }, { type: 'integer' }] },
    id: { type: 'integer', minimum: 1 },
    channels: { ...list, minItems: 1, maxItems: CHANNELS.length },
    venues: { ...list, minItems: 1 },
    symbols: { ...list, minItems: 1 },
    assets: { ...list, minItems: 1 },
    depth: { type: 'integer' },
  },
  required: ['op'],
  additionalProperties: false,
};
const validateRequest = sharedAjv.compile(requestSchema);

/** `binance*`, `ccxt:*`, `ccxt:ku*` (a prefix of a venue id, then `*`). */
const VENUE_PREFIX = /^(?:[a-z0-9-]{0,32}|ccxt:[a-z0-9]{0,32})\*$/;
const SYMBOL_PREFIX = /^[A-Z0-9/:-]{0,40}\*$/;
const ASSET = /^[A-Z0-9]{1,20}$/;
const ASSET_PREFIX = /^[A-Z0-9]{0,20}\*$/;

function checkList(name: string, items: string[] | undefined, max: number, ok: (s: string) => boolean, hint: string, reqId: string | number | null): string[] {
  if (items === undefined) return ['*'];
  if (items.length > max) throw new RequestError('bad_filter', `${name}: at most ${max} entries per subscription`, reqId);
  for (const s of items) {
    if (s === '*') continue;
    if (!ok(s)) throw new RequestError('bad_filter', `${name}: ${JSON.stringify(s)} is not ${hint}`, reqId);
  }
  // Normalize: '*' subsumes everything; sorted and deduplicated so equal filters compare equal.
  if (items.includes('*')) return ['*'];
  return [...new Set(items)].sort();
}

export function parseRequest(text: string, limits: { maxFilterItems: number; defaultBookDepth: number; maxBookDepth: number }): ClientRequest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RequestError('bad_json', `malformed JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RequestError('bad_request', 'a request must be a JSON object with an "op" field');
  const obj = raw as Record<string, unknown>;
  const reqId = typeof obj.reqId === 'string' || (typeof obj.reqId === 'number' && Number.isInteger(obj.reqId)) ? (obj.reqId as string | number) : null;
  if (obj.op !== 'subscribe' && obj.op !== 'unsubscribe' && obj.op !== 'ping') {
    throw new RequestError('unknown_op', `unknown op ${JSON.stringify(obj.op)} (expected subscribe, unsubscribe or ping)`, reqId);
  }
  if (Array.isArray(obj.channels)) {
    const bad = obj.channels.find((c) => !isChannel(c));
    if (bad !== undefined) throw new RequestError('unknown_channel', `unknown channel ${JSON.stringify(bad)} (channels: ${CHANNELS.join(', ')})`, reqId);
  }
  if (!validateRequest(obj)) throw new RequestError('bad_request', describeErrors(validateRequest.errors), reqId);
  const r = obj as { op: string; id?: number; channels?: Channel[]; venues?: string[]; symbols?: string[]; assets?: string[]; depth?: number };
  if (r.op === 'ping') return { op: 'ping', reqId };
  const hasFilter = r.channels !== undefined || r.venues !== undefined || r.symbols !== undefined || r.assets !== undefined;
  // `{"op":"unsubscribe"}` alone removes every subscription of the connection.
  if (r.op === 'unsubscribe' && r.id === undefined && !hasFilter && r.depth === undefined) return { op: 'unsubscribe', reqId, id: null, filter: null };
  if (r.op === 'unsubscribe' && r.id !== undefined) {
    if (hasFilter || r.depth !== undefined) throw new RequestError('bad_request', 'unsubscribe takes either "id" or a filter, not both', reqId);
    return { op: 'unsubscribe', reqId, id: r.id, filter: null };
  }
  if (r.op === 'subscribe' && r.id !== undefined) throw new RequestError('bad_request', 'subscribe does not take "id" (the server assigns it)', reqId);
  if (r.op === 'subscribe' && r.channels === undefined) throw new RequestError('bad_request', '"channels" is required', reqId);
  if (r.depth !== undefined && (r.depth < 1 || r.depth > limits.maxBookDepth)) {
    throw new RequestError('bad_filter', `depth must be an integer in 1..${limits.maxBookDepth}`, reqId);
  }
  const max = limits.maxFilterItems;
  const filter: Filter = {
    channels: r.channels ? [...new Set(r.channels)].sort() : [...CHANNELS],
    venues: checkList('venues', r.venues, max, (s) => isVenueId(s) || VENUE_PREFIX.test(s), `a venue (${VENUE_ID_HELP}) or a prefix pattern like "binance*" or "ccxt:*"`, reqId),
    symbols: checkList('symbols', r.symbols, max, (s) => isUnifiedSymbol(s) || SYMBOL_PREFIX.test(s), 'a unified symbol like "BTC/USDT:USDT" or a prefix pattern like "BTC/*"', reqId),
    assets: checkList('assets', r.assets, max, (s) => ASSET.test(s) || ASSET_PREFIX.test(s), 'an asset like "BTC" or a prefix pattern like "B*"', reqId),
    depth: r.depth ?? limits.defaultBookDepth,
  };
  if (r.op === 'subscribe') return { op: 'subscribe', reqId, filter };
  return { op: 'unsubscribe', reqId, id: null, filter };
}

/** Event-side value '*' (cross-venue alert, connection-wide status) matches every filter. */
export function matchList(patterns: readonly string[], value: string): boolean {
  if (value === '*') return true;
  for (let i = 0; i < patterns.length; i++) {
    const p = patterns[i];
    if (p === '*' || p === value) return true;
    if (p.endsWith('*') && value.startsWith(p.slice(0, -1))) return true;
  }
  return false;
}

export function filterMatches(f: Filter, channel: Channel, venue: string, symbol: string, asset: string): boolean {
  return f.channels.includes(channel) && matchList(f.venues, venue) && matchList(f.symbols, symbol) && matchList(f.assets, asset);
}

export function sameScope(a: Filter, b: Filter): boolean {
  const eq = (x: string[], y: string[]) => x.length === y.length && x.every((v, i) => v === y[i]);
  return eq(a.venues, b.venues) && eq(a.symbols, b.symbols) && eq(a.assets, b.assets);
}

// ---- Server → client messages built by the gateway (market events are sent as serialized by schemas). ----

export interface BookMessage {
  type: 'book';
  venue: VenueId;
  symbol: string;
  ts: number;
  seq: number;
  bids: Level[];
  asks: Level[];
}

const num = { type: 'number' } as const;
const levels = { type: 'array', items: { type: 'array', items: num } } as const;
export const bookMessageSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    venue: { type: 'string' },
    symbol: { type: 'string' },
    ts: { type: 'integer' },
    seq: { type: 'integer' },
    bids: levels,
    asks: levels,
  },
  required: ['type', 'venue', 'symbol', 'ts', 'seq', 'bids', 'asks'],
  additionalProperties: false,
};
export const serializeBook = compileSerializer<BookMessage>(bookMessageSchema);

export interface DroppedMessage { type: 'dropped'; channel: Channel; count: number }
export const serializeDropped = compileSerializer<DroppedMessage>({
  type: 'object',
  properties: { type: { type: 'string' }, channel: { type: 'string' }, count: { type: 'integer' } },
  required: ['type', 'channel', 'count'],
});

export interface ErrorMessage { type: 'error'; code: string; message: string; reqId?: string | number | null }
const reqIdSchema = { anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] };
export const serializeError = compileSerializer<ErrorMessage>({
  type: 'object',
  properties: { type: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' }, reqId: reqIdSchema },
  required: ['type', 'code', 'message'],
});

export interface SubscribedMessage {
  type: 'subscribed';
  id: number;
  reqId?: string | number | null;
  channels: string[];
  venues: string[];
  symbols: string[];
  assets: string[];
  depth: number;
  /** Number of snapshot messages that follow immediately. */
  snapshot: number;
}
const strList = { type: 'array', items: { type: 'string' } };
export const serializeSubscribed = compileSerializer<SubscribedMessage>({
  type: 'object',
  properties: {
    type: { type: 'string' },
    id: { type: 'integer' },
    reqId: reqIdSchema,
    channels: strList,
    venues: strList,
    symbols: strList,
    assets: strList,
    depth: { type: 'integer' },
    snapshot: { type: 'integer' },
  },
  required: ['type', 'id', 'channels', 'venues', 'symbols', 'assets', 'depth', 'snapshot'],
});

export interface UnsubscribedMessage { type: 'unsubscribed'; reqId?: string | number | null; ids: number[]; removed: string[] }
export const serializeUnsubscribed = compileSerializer<UnsubscribedMessage>({
  type: 'object',
  properties: {
    type: { type: 'string' },
    reqId: reqIdSchema,
    ids: { type: 'array', items: { type: 'integer' } },
    removed: strList,
  },
  required: ['type', 'ids', 'removed'],
});

export interface PongMessage { type: 'pong'; reqId?: string | number | null; ts: number }
export const serializePong = compileSerializer<PongMessage>({
  type: 'object',
  properties: { type: { type: 'string' }, reqId: reqIdSchema, ts: { type: 'integer' } },
  required: ['type', 'ts'],
});

export interface HelloMessage { type: 'hello'; protocol: number; tickMs: number; maxBookDepth: number; channels: string[] }
export const serializeHello = compileSerializer<HelloMessage>({
  type: 'object',
  properties: {
    type: { type: 'string' },
    protocol: { type: 'integer' },
    tickMs: { type: 'integer' },
    maxBookDepth: { type: 'integer' },
    channels: strList,
  },
  required: ['type', 'protocol', 'tickMs', 'maxBookDepth', 'channels'],
});
