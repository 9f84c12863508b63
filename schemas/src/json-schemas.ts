import { BAND_PCTS, SYNC_STATES } from './events.ts';
import { VENUE_ID_PATTERN } from './venues.ts';

/**
 * JSON Schemas of every event: the source for the compiled serializers (fast-json-stringify) and
 * for validating anything untrusted (bus records, client input). Kept as plain objects so both
 * libraries read the same definition.
 */
type JsonSchema = Record<string, unknown>;

const num = { type: 'number' } as const;
const int = { type: 'integer' } as const;
const nullableNum = { type: ['number', 'null'] } as const;
const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;

const level = {
  type: 'array',
  items: [num, num],
  additionalItems: false,
  minItems: 2,
  maxItems: 2,
} as const;
const levels = { type: 'array', items: level } as const;

function object(type: string, properties: Record<string, unknown>): JsonSchema {
  const props = { type: { const: type }, ...properties };
  return {
    type: 'object',
    properties: props,
    required: Object.keys(props),
    additionalProperties: false,
  };
}

const header = {
  venue: { type: 'string', pattern: VENUE_ID_PATTERN },
  symbol: { type: 'string', minLength: 1, maxLength: 64 },
  ts: int,
  recvTs: int,
  seq: int,
};

export const bookSnapshotSchema = object('book_snapshot', { ...header, bids: levels, asks: levels, depthLimit: int });
export const bookDeltaSchema = object('book_delta', { ...header, bids: levels, asks: levels });
export const tradeSchema = object('trade', {
  ...header,
  id: str,
  price: num,
  amount: num,
  side: { type: 'string', enum: ['buy', 'sell'] },
  liquidation: bool,
});
export const liquidationSchema = object('liquidation', {
  ...header,
  id: str,
  liquidatedPosition: { type: 'string', enum: ['long', 'short'] },
  price: num,
  amount: num,
  notional: num,
  completeness: { type: 'string', enum: ['complete', 'lower_bound'] },
});
export const tickerSchema = object('ticker', {
  ...header,
  markPrice: nullableNum,
  indexPrice: nullableNum,
  lastPrice: nullableNum,
  fundingRate: nullableNum,
  nextFundingTime: { type: ['integer', 'null'] },
  openInterest: nullableNum,
});
export const feedStatusSchema = object('status', {
  ...header,
  venue: { type: 'string', pattern: VENUE_ID_PATTERN },
  symbol: { type: 'string', minLength: 1, maxLength: 64 },
  state: { type: 'string', enum: [...SYNC_STATES] },
  reason: str,
  resyncs: int,
  gaps: int,
  checksumFailures: int,
  reconnects: int,
  lagMs: { type: ['number', 'null'] },
});

const band = {
  type: 'object',
  properties: {
    pct: { type: 'number', enum: [...BAND_PCTS] },
    bidBase: num,
    askBase: num,
    bidQuote: num,
    askQuote: num,
    bidTruncated: bool,
    askTruncated: bool,
  },
  required: ['pct', 'bidBase', 'askBase', 'bidQuote', 'askQuote', 'bidTruncated', 'askTruncated'],
  additionalProperties: false,
} as const;

const slippage = {
  type: 'object',
  properties: { notional: num, buyBps: nullableNum, sellBps: nullableNum },
  required: ['notional', 'buyBps', 'sellBps'],
  additionalProperties: false,
} as const;

const capacity = {
  type: 'object',
  properties: { bps: num, buyQuote: num, sellQuote: num },
  required: ['bps', 'buyQuote', 'sellQuote'],
  additionalProperties: false,
} as const;

export const depthMetricsSchema = object('depth', {
  venue: header.venue,
  symbol: header.symbol,
  ts: int,
  seq: int,
  bestBid: num,
  bestAsk: num,
  mid: num,
  microprice: num,
  spreadBps: num,
  imbalance: num,
  bidLevels: int,
  askLevels: int,
  bands: { type: 'array', items: band },
  slippage: { type: 'array', items: slippage },
  capacity: { type: 'array', items: capacity },
});

const flowWindow = {
  type: 'object',
  properties: {
    windowSec: int,
    longNotional: num,
    shortNotional: num,
    longCount: int,
    shortCount: int,
    longLargest: num,
    shortLargest: num,
  },
  required: ['windowSec', 'longNotional', 'shortNotional', 'longCount', 'shortCount', 'longLargest', 'shortLargest'],
  additionalProperties: false,
} as const;

export const assetDepthSchema = object('asset_depth', {
  venue: { const: '*' },
  symbol: { const: '*' },
  asset: { type: 'string', minLength: 1, maxLength: 32 },
  ts: int,
  seq: int,
  venues: { type: 'array', items: str },
  depth2PctBidQuote: num,
  depth2PctAskQuote: num,
  depth2PctBidBaseline: nullableNum,
  depth2PctAskBaseline: nullableNum,
  depthTruncated: bool,
  liquidations: { type: 'array', items: flowWindow },
  lowerBoundVenues: { type: 'array', items: str },
  capacity: { type: 'array', items: capacity },
});

const evidence = {
  type: 'object',
  properties: {
    liquidationNotional: num,
    liquidationRate: num,
    liquidationBaselineRate: num,
    depth2Pct: num,
    depth2PctBaseline: num,
    spreadBps: num,
    spreadBaselineBps: num,
    priceMovePct: num,
    venues: { type: 'array', items: str },
    lowerBoundVenues: { type: 'array', items: str },
    depthTruncated: bool,
  },
  additionalProperties: false,
} as const;

export const alertSchema = object('alert', {
  id: str,
  kind: { type: 'string', enum: ['cascade', 'feed'] },
  scope: { type: 'string', enum: ['symbol', 'asset', 'venue'] },
  venue: str,
  symbol: str,
  asset: str,
  side: { type: 'string', enum: ['bid', 'ask', 'none'] },
  stage: str,
  severity: { type: 'string', enum: ['watch', 'warning', 'critical'] },
  state: { type: 'string', enum: ['open', 'update', 'resolved'] },
  startTs: int,
  ts: int,
  endTs: { type: ['integer', 'null'] },
  seq: int,
  evidence: { ...evidence, required: Object.keys(evidence.properties) },
  explanation: str,
});

export const EVENT_SCHEMAS = {
  book_snapshot: bookSnapshotSchema,
  book_delta: bookDeltaSchema,
  trade: tradeSchema,
  liquidation: liquidationSchema,
  ticker: tickerSchema,
  status: feedStatusSchema,
  depth: depthMetricsSchema,
  asset_depth: assetDepthSchema,
  alert: alertSchema,
} as const;

export type EventType = keyof typeof EVENT_SCHEMAS;
