import { BAND_PCTS, CAPACITY_BPS, SLIPPAGE_NOTIONALS, type Alert, type AssetDepth, type DepthMetrics, type FeedStatus, type Liquidation, type Ticker, type Trade, type VenueId } from '@depthwatch/schemas';

/** Hand-made events for the ClickHouse tests (sink, rollups, history store). */
export const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

export function trade(i: number, o: Partial<Trade> = {}): Trade {
  return { type: 'trade', venue: 'binance-futures', symbol: 'BTC/USDT:USDT', ts: T0 + i, recvTs: T0 + i + 5, seq: i, id: `t${i}`, price: 100 + (i % 7), amount: 0.5, side: i % 2 ? 'sell' : 'buy', liquidation: false, ...o };
}

export function liquidation(i: number, o: Partial<Liquidation> = {}): Liquidation {
  return { type: 'liquidation', venue: 'bybit', symbol: 'ETH/USDT:USDT', ts: T0 + i, recvTs: T0 + i + 5, seq: i, id: `l${i}`, liquidatedPosition: 'long', price: 2000, amount: 1.5, notional: 3000, completeness: 'complete', ...o };
}

export function ticker(i: number): Ticker {
  return { type: 'ticker', venue: 'okx', symbol: 'BTC/USDT:USDT', ts: T0 + i, recvTs: T0 + i + 5, seq: i, markPrice: 100.25, indexPrice: 100.5, lastPrice: null, fundingRate: 0.0001, nextFundingTime: T0 + 28_800_000, openInterest: 12_345.5 };
}

export function status(i: number): FeedStatus {
  return { type: 'status', venue: 'kraken', symbol: '*', ts: T0 + i, recvTs: T0 + i + 5, seq: i, state: 'resyncing', reason: 'checksum mismatch', resyncs: 3, gaps: 1, checksumFailures: 2, reconnects: 0, lagMs: 42.5 };
}

export function depth(i: number, o: Partial<DepthMetrics> & { q2?: [number, number] } = {}): DepthMetrics {
  const { q2, ...rest } = o;
  return {
    type: 'depth',
    venue: 'binance-futures' as VenueId,
    symbol: 'BTC/USDT:USDT',
    ts: T0 + i,
    seq: i,
    bestBid: 99.5,
    bestAsk: 100.5,
    mid: 100,
    microprice: 100.1,
    spreadBps: 100,
    imbalance: 0.25,
    bidLevels: 500,
    askLevels: 480,
    bands: BAND_PCTS.map((pct, k) => ({
      pct,
      bidBase: 10 * (k + 1),
      askBase: 11 * (k + 1),
      bidQuote: pct === 2 && q2 ? q2[0] : 1000 * (k + 1),
      askQuote: pct === 2 && q2 ? q2[1] : 1100 * (k + 1),
      bidTruncated: pct === 10,
      askTruncated: false,
    })),
    slippage: SLIPPAGE_NOTIONALS.map((notional, k) => ({ notional, buyBps: k === 2 ? null : 1.5 * (k + 1), sellBps: 2 * (k + 1) })),
    capacity: CAPACITY_BPS.map((bps) => ({ bps, buyQuote: bps * 1000, sellQuote: bps * 900 })),
    ...rest,
  };
}

export function alert(i: number): Alert {
  return {
    type: 'alert',
    id: `cascade-BTC-${i}`,
    kind: 'cascade',
    scope: 'asset',
    venue: '*',
    symbol: 'BTC/USDT:USDT',
    asset: 'BTC',
    side: 'bid',
    stage: 'cascade',
    severity: 'critical',
    state: 'open',
    startTs: T0 + i,
    ts: T0 + i,
    endTs: null,
    seq: i,
    evidence: {
      liquidationNotional: 5e6,
      liquidationRate: 12.5,
      liquidationBaselineRate: 0.5,
      depth2Pct: 2e6,
      depth2PctBaseline: 8e6,
      spreadBps: 6,
      spreadBaselineBps: 1,
      priceMovePct: -2.5,
      venues: ['binance-futures', 'bybit'],
      lowerBoundVenues: ['binance-futures'],
      depthTruncated: true,
    },
    explanation: "liquidations 25x baseline; 2 % bid depth -75 %; it's a cascade",
  };
}

export function assetDepth(i: number, o: Partial<AssetDepth> = {}): AssetDepth {
  return {
    type: 'asset_depth',
    venue: '*',
    symbol: '*',
    asset: 'BTC',
    ts: T0 + i * 1000,
    seq: i,
    venues: ['binance-futures', 'okx'],
    depth2PctBidQuote: 1_250_000.5,
    depth2PctAskQuote: 990_000,
    depth2PctBidBaseline: i % 2 ? null : 2_000_000,
    depth2PctAskBaseline: i % 2 ? null : 1_000_000.25,
    depthTruncated: i % 2 === 1,
    liquidations: [10, 60, 300].map((windowSec) => ({ windowSec, longNotional: 1000 * windowSec, shortNotional: 5.5, longCount: windowSec, shortCount: 1, longLargest: 900, shortLargest: 5.5 })),
    lowerBoundVenues: i % 2 ? ['binance-futures'] : [],
    capacity: CAPACITY_BPS.map((bps) => ({ bps, buyQuote: 100 * bps, sellQuote: 90 * bps })),
    ...o,
  };
}
