import type { Alert, AssetDepth, BlockCapacity, DepthBand, DepthMetrics, FeedStatus, Liquidation, Ticker, Trade, VenueId } from '@depthwatch/schemas';
import { BAND_COLUMNS, CAPACITY_COLUMNS, FLOW_COLUMNS, SLIPPAGE_COLUMNS } from './columns.ts';

/**
 * Event ⇄ row mapping for the raw tables. Rows are sent as JSONEachRow: numbers as JSON numbers
 * (18.16 rejects quoted Float/Decimal), times as integer ms, booleans as 0/1.
 * Reading back: ClickHouse returns UInt64 as strings, hence the Number() conversions.
 */
export type Row = Record<string, string | number | null | string[]>;

export const SINK_TABLES = ['trades', 'liquidations', 'tickers', 'feed_status', 'depth', 'asset_depth', 'alerts'] as const;
export type SinkTable = (typeof SINK_TABLES)[number];

/** Block capacity as one column pair per bps (depth and asset_depth share the layout). */
function putCapacity(row: Row, capacity: readonly BlockCapacity[]): void {
  for (const c of CAPACITY_COLUMNS) {
    const cap = capacity.find((x) => x.bps === c.bps);
    row[c.buy] = cap?.buyQuote ?? 0;
    row[c.sell] = cap?.sellQuote ?? 0;
  }
}

function capacityFromRow(r: DbRow): BlockCapacity[] {
  return CAPACITY_COLUMNS.map((c) => ({ bps: c.bps, buyQuote: n(r[c.buy]), sellQuote: n(r[c.sell]) }));
}

export function assetDepthRow(e: AssetDepth, runId: string): Row {
  const row: Row = {
    run_id: runId,
    asset: e.asset,
    ts_ms: e.ts,
    seq: e.seq,
    venues: e.venues,
    depth_2pct_bid_quote: e.depth2PctBidQuote,
    depth_2pct_ask_quote: e.depth2PctAskQuote,
    depth_2pct_bid_baseline: e.depth2PctBidBaseline,
    depth_2pct_ask_baseline: e.depth2PctAskBaseline,
    depth_truncated: e.depthTruncated ? 1 : 0,
    lower_bound_venues: e.lowerBoundVenues,
  };
  for (const f of FLOW_COLUMNS) {
    const w = e.liquidations.find((x) => x.windowSec === f.windowSec);
    row[f.longNotional] = w?.longNotional ?? 0;
    row[f.shortNotional] = w?.shortNotional ?? 0;
    row[f.longCount] = w?.longCount ?? 0;
    row[f.shortCount] = w?.shortCount ?? 0;
    row[f.longLargest] = w?.longLargest ?? 0;
    row[f.shortLargest] = w?.shortLargest ?? 0;
  }
  putCapacity(row, e.capacity);
  return row;
}

export function tradeRow(e: Trade, runId: string): Row {
  return {
    run_id: runId,
    venue: e.venue,
    symbol: e.symbol,
    ts_ms: e.ts,
    recv_ts_ms: e.recvTs,
    seq: e.seq,
    id: e.id,
    price: e.price,
    amount: e.amount,
    side: e.side,
    liquidation: e.liquidation ? 1 : 0,
  };
}

export function liquidationRow(e: Liquidation, runId: string): Row {
  return {
    run_id: runId,
    venue: e.venue,
    symbol: e.symbol,
    ts_ms: e.ts,
    recv_ts_ms: e.recvTs,
    seq: e.seq,
    id: e.id,
    liquidated_position: e.liquidatedPosition,
    price: e.price,
    amount: e.amount,
    notional: e.notional,
    completeness: e.completeness,
  };
}

export function tickerRow(e: Ticker, runId: string): Row {
  return {
    run_id: runId,
    venue: e.venue,
    symbol: e.symbol,
    ts_ms: e.ts,
    recv_ts_ms: e.recvTs,
    seq: e.seq,
    mark_price: e.markPrice,
    index_price: e.indexPrice,
    last_price: e.lastPrice,
    funding_rate: e.fundingRate,
    next_funding_time_ms: e.nextFundingTime,
    open_interest: e.openInterest,
  };
}

export function statusRow(e: FeedStatus, runId: string): Row {
  return {
    run_id: runId,
    venue: e.venue,
    symbol: e.symbol,
    ts_ms: e.ts,
    recv_ts_ms: e.recvTs,
    seq: e.seq,
    state: e.state,
    reason: e.reason,
    resyncs: e.resyncs,
    gaps: e.gaps,
    checksum_failures: e.checksumFailures,
    reconnects: e.reconnects,
    lag_ms: e.lagMs,
  };
}

/** Bands, slippage and capacity become columns; a band missing from the event is stored as 0 / truncated. */
export function depthRow(e: DepthMetrics, runId: string): Row {
  const row: Row = {
    run_id: runId,
    venue: e.venue,
    symbol: e.symbol,
    ts_ms: e.ts,
    seq: e.seq,
    best_bid: e.bestBid,
    best_ask: e.bestAsk,
    mid: e.mid,
    microprice: e.microprice,
    spread_bps: e.spreadBps,
    imbalance: e.imbalance,
    bid_levels: e.bidLevels,
    ask_levels: e.askLevels,
  };
  for (const c of BAND_COLUMNS) {
    const b = e.bands.find((x) => x.pct === c.pct);
    row[c.bidBase] = b?.bidBase ?? 0;
    row[c.askBase] = b?.askBase ?? 0;
    row[c.bidQuote] = b?.bidQuote ?? 0;
    row[c.askQuote] = b?.askQuote ?? 0;
    row[c.bidTruncated] = b ? (b.bidTruncated ? 1 : 0) : 1;
    row[c.askTruncated] = b ? (b.askTruncated ? 1 : 0) : 1;
  }
  for (const c of SLIPPAGE_COLUMNS) {
    const s = e.slippage.find((x) => x.notional === c.notional);
    row[c.buy] = s?.buyBps ?? null;
    row[c.sell] = s?.sellBps ?? null;
  }
  putCapacity(row, e.capacity);
  return row;
}

export function alertRow(e: Alert, runId: string): Row {
  const v = e.evidence;
  return {
    run_id: runId,
    id: e.id,
    kind: e.kind,
    scope: e.scope,
    venue: e.venue,
    symbol: e.symbol,
    asset: e.asset,
    side: e.side,
    stage: e.stage,
    severity: e.severity,
    state: e.state,
    start_ts_ms: e.startTs,
    ts_ms: e.ts,
    end_ts_ms: e.endTs,
    seq: e.seq,
    liquidation_notional: v.liquidationNotional,
    liquidation_rate: v.liquidationRate,
    liquidation_baseline_rate: v.liquidationBaselineRate,
    depth_2pct: v.depth2Pct,
    depth_2pct_baseline: v.depth2PctBaseline,
    spread_bps: v.spreadBps,
    spread_baseline_bps: v.spreadBaselineBps,
    price_move_pct: v.priceMovePct,
    venues: v.venues,
    lower_bound_venues: v.lowerBoundVenues,
    depth_truncated: v.depthTruncated ? 1 : 0,
    explanation: e.explanation,
  };
}

// ------------------------------------------------------------------ reading back

type DbRow = Record<string, unknown>;
const n = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const nn = (v: unknown): number | null => (v === null || v === undefined ? null : n(v));

export function tradeFromRow(r: DbRow): Trade {
  return {
    type: 'trade',
    venue: r.venue as VenueId,
    symbol: String(r.symbol),
    ts: n(r.ts_ms),
    recvTs: n(r.recv_ts_ms),
    seq: n(r.seq),
    id: String(r.id),
    price: n(r.price),
    amount: n(r.amount),
    side: r.side as Trade['side'],
    liquidation: n(r.liquidation) === 1,
  };
}

export function liquidationFromRow(r: DbRow): Liquidation {
  return {
    type: 'liquidation',
    venue: r.venue as VenueId,
    symbol: String(r.symbol),
    ts: n(r.ts_ms),
    recvTs: n(r.recv_ts_ms),
    seq: n(r.seq),
    id: String(r.id),
    liquidatedPosition: r.liquidated_position as Liquidation['liquidatedPosition'],
    price: n(r.price),
    amount: n(r.amount),
    notional: n(r.notional),
    completeness: r.completeness as Liquidation['completeness'],
  };
}

export function depthFromRow(r: DbRow): DepthMetrics {
  const bands: DepthBand[] = BAND_COLUMNS.map((c) => ({
    pct: c.pct,
    bidBase: n(r[c.bidBase]),
    askBase: n(r[c.askBase]),
    bidQuote: n(r[c.bidQuote]),
    askQuote: n(r[c.askQuote]),
    bidTruncated: n(r[c.bidTruncated]) === 1,
    askTruncated: n(r[c.askTruncated]) === 1,
  }));
  return {
    type: 'depth',
    venue: r.venue as VenueId,
    symbol: String(r.symbol),
    ts: n(r.ts_ms),
    seq: n(r.seq),
    bestBid: n(r.best_bid),
    bestAsk: n(r.best_ask),
    mid: n(r.mid),
    microprice: n(r.microprice),
    spreadBps: n(r.spread_bps),
    imbalance: n(r.imbalance),
    bidLevels: n(r.bid_levels),
    askLevels: n(r.ask_levels),
    bands,
    slippage: SLIPPAGE_COLUMNS.map((c) => ({ notional: c.notional, buyBps: nn(r[c.buy]), sellBps: nn(r[c.sell]) })),
    capacity: capacityFromRow(r),
  };
}

export function assetDepthFromRow(r: DbRow): AssetDepth {
  return {
    type: 'asset_depth',
    venue: '*',
    symbol: '*',
    asset: String(r.asset),
    ts: n(r.ts_ms),
    seq: n(r.seq),
    venues: (r.venues as string[]) ?? [],
    depth2PctBidQuote: n(r.depth_2pct_bid_quote),
    depth2PctAskQuote: n(r.depth_2pct_ask_quote),
    depth2PctBidBaseline: nn(r.depth_2pct_bid_baseline),
    depth2PctAskBaseline: nn(r.depth_2pct_ask_baseline),
    depthTruncated: n(r.depth_truncated) === 1,
    liquidations: FLOW_COLUMNS.map((f) => ({
      windowSec: f.windowSec,
      longNotional: n(r[f.longNotional]),
      shortNotional: n(r[f.shortNotional]),
      longCount: n(r[f.longCount]),
      shortCount: n(r[f.shortCount]),
      longLargest: n(r[f.longLargest]),
      shortLargest: n(r[f.shortLargest]),
    })),
    lowerBoundVenues: (r.lower_bound_venues as string[]) ?? [],
    capacity: capacityFromRow(r),
  };
}

export function alertFromRow(r: DbRow): Alert {
  return {
    type: 'alert',
    id: String(r.id),
    kind: r.kind as Alert['kind'],
    scope: r.scope as Alert['scope'],
    venue: String(r.venue),
    symbol: String(r.symbol),
    asset: String(r.asset),
    side: r.side as Alert['side'],
    stage: String(r.stage),
    severity: r.severity as Alert['severity'],
    state: r.state as Alert['state'],
    startTs: n(r.start_ts_ms),
    ts: n(r.ts_ms),
    endTs: nn(r.end_ts_ms),
    seq: n(r.seq),
    evidence: {
      liquidationNotional: n(r.liquidation_notional),
      liquidationRate: n(r.liquidation_rate),
      liquidationBaselineRate: n(r.liquidation_baseline_rate),
      depth2Pct: n(r.depth_2pct),
      depth2PctBaseline: n(r.depth_2pct_baseline),
      spreadBps: n(r.spread_bps),
      spreadBaselineBps: n(r.spread_baseline_bps),
      priceMovePct: n(r.price_move_pct),
      venues: (r.venues as string[]) ?? [],
      lowerBoundVenues: (r.lower_bound_venues as string[]) ?? [],
      depthTruncated: n(r.depth_truncated) === 1,
    },
    explanation: String(r.explanation),
  };
}
