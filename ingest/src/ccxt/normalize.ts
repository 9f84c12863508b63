import type { Level } from '@depthwatch/schemas';
import { VenueParseError, type BookSnapshotMsg, type LiquidationMsg, type TickerMsg, type TradeMsg } from '../sync/adapter.ts';
import type { MarketInfo } from '../metadata/index.ts';
import { toBase } from '../venues/util.ts';
import type { CcxtLevel, CcxtLiquidation, CcxtOrderBook, CcxtTicker, CcxtTrade } from './load.ts';

/**
 * ccxt's unified structures → our normalized messages. ccxt reports derivative sizes in contracts
 * (as the exchange sends them); we publish base units: × contractSize for linear contracts,
 * × contractSize ÷ price for inverse ones (a contract is worth contractSize quote).
 */

/** One side of ccxt's book as our levels (a fresh array: ccxt mutates its rows in place later). */
export function levelsFromCcxt(rows: ArrayLike<CcxtLevel>, market: MarketInfo): Level[] {
  const out: Level[] = [];
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    const price = row[0];
    const qty = row[1];
    if (qty === 0) continue;
    out.push([price, toBase(qty, market.contractSize, market.inverse, price)]);
  }
  return out;
}

/** ccxt's whole current book for one symbol, as a full snapshot (the framework diffs it against the last one). */
export function bookFromCcxt(ob: CcxtOrderBook, symbol: string, market: MarketInfo, recvTs: number): BookSnapshotMsg {
  return {
    kind: 'book_snapshot',
    symbol,
    // Not every exchange stamps its book updates; then the receive time is the best we have.
    ts: typeof ob.timestamp === 'number' ? ob.timestamp : recvTs,
    bids: levelsFromCcxt(ob.bids, market),
    asks: levelsFromCcxt(ob.asks, market),
    id: typeof ob.nonce === 'number' ? ob.nonce : null,
  };
}

export function tradeFromCcxt(t: CcxtTrade, symbol: string, market: MarketInfo, recvTs: number): TradeMsg {
  if (t.side !== 'buy' && t.side !== 'sell') throw new VenueParseError(`trade ${t.id ?? '?'} without a taker side (${String(t.side)})`, symbol, 'trade');
  if (typeof t.price !== 'number' || typeof t.amount !== 'number') throw new VenueParseError(`trade ${t.id ?? '?'} without price or amount`, symbol, 'trade');
  const ts = typeof t.timestamp === 'number' ? t.timestamp : recvTs;
  return {
    kind: 'trade',
    symbol,
    ts,
    // Exchanges without trade ids still need a stable one for consumers' dedup.
    id: t.id !== undefined && t.id !== null && String(t.id) !== '' ? String(t.id) : `${ts}:${t.price}:${t.amount}`,
    price: t.price,
    amount: toBase(t.amount, market.contractSize, market.inverse, t.price),
    side: t.side,
    liquidation: false,
  };
}

/** Fields ccxt does not report stay unchanged (undefined), as for native partial tickers. */
export function tickerFromCcxt(t: CcxtTicker, symbol: string, recvTs: number): TickerMsg {
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  return {
    kind: 'ticker',
    symbol,
    ts: typeof t.timestamp === 'number' ? t.timestamp : recvTs,
    lastPrice: num(t.last),
    markPrice: num(t.markPrice),
    indexPrice: num(t.indexPrice),
  };
}

/**
 * What ccxt's liquidation `side` means, per exchange family. ccxt passes the exchange's own field
 * through: Binance (forceOrder `S`) and OKX (`details[].side`) give the liquidation ORDER's side (a
 * sell order closes a long), Bybit (`S`) the liquidated POSITION's side (Buy = a long was
 * liquidated). An exchange not listed here gets no liquidation channel: a guessed side would invert
 * the signal a cascade detector reads.
 */
export type LiquidationSideConvention = 'order' | 'position';
const LIQUIDATION_CONVENTION: Readonly<Record<string, LiquidationSideConvention>> = {
  binance: 'order',
  binanceusdm: 'order',
  binancecoinm: 'order',
  okx: 'order',
  myokx: 'order',
  okxus: 'order',
  bybit: 'position',
  bybiteu: 'position',
  bybitid: 'position',
};

export function liquidationConvention(exchangeId: string): LiquidationSideConvention | null {
  return Object.hasOwn(LIQUIDATION_CONVENTION, exchangeId) ? LIQUIDATION_CONVENTION[exchangeId]! : null;
}

/**
 * A ccxt liquidation as ours. Completeness is `lower_bound`: which exchange channel ccxt reads (and
 * whether the exchange samples it, as Binance's forceOrder does) is not ours to know.
 */
export function liquidationFromCcxt(l: CcxtLiquidation, symbol: string, market: MarketInfo, convention: LiquidationSideConvention, recvTs: number): LiquidationMsg {
  const side = l.side?.toLowerCase();
  if (side !== 'buy' && side !== 'sell') throw new VenueParseError(`liquidation without a side (${String(l.side)})`, symbol, 'liquidation');
  if (typeof l.price !== 'number' || typeof l.contracts !== 'number') throw new VenueParseError('liquidation without price or size', symbol, 'liquidation');
  const ts = typeof l.timestamp === 'number' ? l.timestamp : recvTs;
  const long = convention === 'order' ? side === 'sell' : side === 'buy';
  return {
    kind: 'liquidation',
    symbol,
    ts,
    id: `${ts}:${side}:${l.price}:${l.contracts}`,
    liquidatedPosition: long ? 'long' : 'short',
    price: l.price,
    amount: toBase(l.contracts, market.contractSize, market.inverse, l.price),
    // Inverse contracts are worth contractSize quote each; linear ones price × base.
    ...(market.inverse ? { notional: l.contracts * market.contractSize } : {}),
    completeness: 'lower_bound',
  };
}
