import { BAND_PCTS, CAPACITY_BPS, SLIPPAGE_NOTIONALS, type DepthMetrics, type Level } from '@depthwatch/schemas';

/**
 * From-scratch depth metrics over plain level lists: the slow, obvious definition the incremental
 * book is tested against. Not used on the hot path.
 */
export function referenceDepth(
  bidMap: ReadonlyMap<number, number>,
  askMap: ReadonlyMap<number, number>,
  depthLimit: number,
): Omit<DepthMetrics, 'type' | 'venue' | 'symbol' | 'ts' | 'seq'> {
  const bids: Level[] = [...bidMap].filter(([, s]) => s > 0).sort((a, b) => b[0] - a[0]);
  const asks: Level[] = [...askMap].filter(([, s]) => s > 0).sort((a, b) => a[0] - b[0]);
  const bestBid = bids[0][0];
  const bestAsk = asks[0][0];
  const mid = (bestBid + bestAsk) / 2;
  const bands = BAND_PCTS.map((pct) => {
    const lo = mid * (1 - pct / 100);
    const hi = mid * (1 + pct / 100);
    const inBid = bids.filter(([p]) => p >= lo);
    const inAsk = asks.filter(([p]) => p <= hi);
    const sum = (ls: Level[], f: (l: Level) => number) => ls.reduce((a, l) => a + f(l), 0);
    return {
      pct,
      bidBase: sum(inBid, (l) => l[1]),
      askBase: sum(inAsk, (l) => l[1]),
      bidQuote: sum(inBid, (l) => l[0] * l[1]),
      askQuote: sum(inAsk, (l) => l[0] * l[1]),
      bidTruncated: depthLimit > 0 && bids[bids.length - 1][0] > lo,
      askTruncated: depthLimit > 0 && asks[asks.length - 1][0] < hi,
    };
  });
  const b1 = bands[BAND_PCTS.indexOf(1)];
  const slip = (levels: Level[], notional: number, buy: boolean): number | null => {
    let rem = notional;
    let base = 0;
    for (const [p, s] of levels) {
      const take = Math.min(rem, p * s);
      base += take / p;
      rem -= take;
      if (rem <= 0) break;
    }
    if (rem > 1e-9 * notional) return null;
    const vwap = notional / base;
    return buy ? (vwap / mid - 1) * 1e4 : (1 - vwap / mid) * 1e4;
  };
  return {
    bestBid,
    bestAsk,
    mid,
    microprice: (bestBid * asks[0][1] + bestAsk * bids[0][1]) / (asks[0][1] + bids[0][1]),
    spreadBps: ((bestAsk - bestBid) / mid) * 1e4,
    imbalance: b1.bidBase + b1.askBase > 0 ? (b1.bidBase - b1.askBase) / (b1.bidBase + b1.askBase) : 0,
    bidLevels: bids.length,
    askLevels: asks.length,
    bands,
    slippage: SLIPPAGE_NOTIONALS.map((notional) => ({
      notional,
      buyBps: slip(asks, notional, true),
      sellBps: slip(bids, notional, false),
    })),
    capacity: CAPACITY_BPS.map((bps) => {
      const pct = bps / 100;
      return {
        bps,
        buyQuote: asks.filter(([p]) => p <= mid * (1 + pct / 100)).reduce((a, [p, s]) => a + p * s, 0),
        sellQuote: bids.filter(([p]) => p >= mid * (1 - pct / 100)).reduce((a, [p, s]) => a + p * s, 0),
      };
    }),
  };
}
