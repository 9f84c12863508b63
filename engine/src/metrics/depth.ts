import {
  BAND_PCTS,
  CAPACITY_BPS,
  SLIPPAGE_NOTIONALS,
  type BlockCapacity,
  type DepthBand,
  type DepthMetrics,
  type Slippage,
  type VenueId,
} from '@depthwatch/schemas';
import type { BookSide, L2Book } from '../book/l2-book.ts';

/** Index of the ±2 % band in BAND_PCTS (the depth the cascade detector watches). */
export const BAND_2PCT = BAND_PCTS.indexOf(2);
/** Index of the ±1 % band (imbalance). */
export const BAND_1PCT = BAND_PCTS.indexOf(1);
/** CAPACITY_BPS entries that coincide with a band (bps / 100 = pct) are read from the band sums. */
const CAPACITY_BAND: number[] = CAPACITY_BPS.map((bps) => BAND_PCTS.indexOf((bps / 100) as never));

/**
 * VWAP impact in bps of a market order of `notional` quote walking `side` from its best level
 * (asks for a buy, bids for a sell), versus mid; null when the side cannot fill it.
 */
export function sideSlippageBps(side: BookSide, mid: number, notional: number): number | null {
  let remaining = notional;
  let base = 0;
  const n = side.n;
  const keys = side.keys;
  const sizes = side.sizes;
  for (let idx = n - 1; idx >= 0; idx--) {
    const price = side.sign * keys[idx];
    const q = price * sizes[idx];
    if (q >= remaining) {
      base += remaining / price;
      remaining = 0;
      break;
    }
    base += sizes[idx];
    remaining -= q;
  }
  if (remaining > 0 || !(base > 0)) return null;
  const vwap = notional / base;
  return side.sign === -1 ? (vwap / mid - 1) * 1e4 : (1 - vwap / mid) * 1e4;
}

/** Quote notional on `side` priced within `bps` of mid (asks ≤ mid×(1+bps), bids ≥ mid×(1−bps)). */
export function sideCapacityQuote(side: BookSide, mid: number, bps: number): number {
  const edge = side.sign === 1 ? mid * (1 - bps / 1e4) : -(mid * (1 + bps / 1e4));
  let sum = 0;
  for (let idx = side.n - 1; idx >= 0 && side.keys[idx] >= edge; idx--) {
    sum += side.sign * side.keys[idx] * side.sizes[idx];
  }
  return sum;
}

/** True when both sides hold a level, so mid and every figure below are defined. */
export function isTwoSided(book: L2Book): boolean {
  return book.bids.n > 0 && book.asks.n > 0;
}

/** Block capacity of one two-sided book (the same figures as DepthMetrics.capacity). */
export function blockCapacity(book: L2Book): BlockCapacity[] {
  const mid = (book.bestBid() + book.bestAsk()) / 2;
  return CAPACITY_BPS.map((bps, i) => {
    const k = CAPACITY_BAND[i];
    return {
      bps,
      buyQuote: k >= 0 ? book.asks.bandQuote(k) : sideCapacityQuote(book.asks, mid, bps),
      sellQuote: k >= 0 ? book.bids.bandQuote(k) : sideCapacityQuote(book.bids, mid, bps),
    };
  });
}

/**
 * Every depth figure of one book. The caller guarantees `isTwoSided(book)`.
 * `ts` is the exchange time of the last book event applied, `seq` the output sequence.
 */
export function computeDepthMetrics(book: L2Book, ts: number, seq: number): DepthMetrics {
  const bids = book.bids;
  const asks = book.asks;
  const bestBid = book.bestBid();
  const bestAsk = book.bestAsk();
  const mid = (bestBid + bestAsk) / 2;
  const bidTop = bids.sizeAt(0);
  const askTop = asks.sizeAt(0);
  const microprice = (bestBid * askTop + bestAsk * bidTop) / (bidTop + askTop);
  const spreadBps = ((bestAsk - bestBid) / mid) * 1e4;

  const bands: DepthBand[] = new Array(BAND_PCTS.length);
  for (let k = 0; k < BAND_PCTS.length; k++) {
    bands[k] = {
      pct: BAND_PCTS[k],
      bidBase: bids.bandBase(k),
      askBase: asks.bandBase(k),
      bidQuote: bids.bandQuote(k),
      askQuote: asks.bandQuote(k),
      bidTruncated: book.bandTruncated('bid', k),
      askTruncated: book.bandTruncated('ask', k),
    };
  }
  const b1 = bands[BAND_1PCT];
  const tot = b1.bidBase + b1.askBase;
  const imbalance = tot > 0 ? (b1.bidBase - b1.askBase) / tot : 0;

  const slippage: Slippage[] = SLIPPAGE_NOTIONALS.map((notional) => ({
    notional,
    buyBps: sideSlippageBps(asks, mid, notional),
    sellBps: sideSlippageBps(bids, mid, notional),
  }));

  const capacity: BlockCapacity[] = CAPACITY_BPS.map((bps, i) => {
    const k = CAPACITY_BAND[i];
    return {
      bps,
      buyQuote: k >= 0 ? bands[k].askQuote : sideCapacityQuote(asks, mid, bps),
      sellQuote: k >= 0 ? bands[k].bidQuote : sideCapacityQuote(bids, mid, bps),
    };
  });

  return {
    type: 'depth',
    venue: book.venue as VenueId,
    symbol: book.symbol,
    ts,
    seq,
    bestBid,
    bestAsk,
    mid,
    microprice,
    spreadBps,
    imbalance,
    bidLevels: bids.n,
    askLevels: asks.n,
    bands,
    slippage,
    capacity,
  };
}
