/**
 * Liquidation-cascade profile as multipliers on the calm market, by scenario seconds since the
 * cascade began. Shape: liquidations (longs) surge for ~75 s, bids within 2 % withdraw 20×, the
 * spread widens 8×, price slides ~3 %; then depth and spread recover over ~3 minutes and price
 * claws back half.
 */
export interface CascadeEffect {
  liquidationRate: number;
  longShare: number;
  bidDepth: number;
  spread: number;
  /** Mid drift as a fraction of price per scenario second. */
  drift: number;
  sellShare: number;
  tradeRate: number;
}

export const CALM: CascadeEffect = { liquidationRate: 1, longShare: 0.5, bidDepth: 1, spread: 1, drift: 0, sellShare: 0.5, tradeRate: 1 };

export const CASCADE_SECONDS = 300;

export function cascadeEffect(t: number): CascadeEffect {
  if (t < 0 || t >= CASCADE_SECONDS) return CALM;
  const surge = t < 10 ? t / 10 : t < 70 ? 1 : t < 80 ? 1 - (t - 70) / 10 : 0;
  const withdraw = t < 15 ? t / 15 : t < 75 ? 1 : Math.exp(-(t - 75) / 50);
  return {
    liquidationRate: 1 + 149 * surge,
    longShare: 0.5 + 0.45 * surge,
    bidDepth: 1 - 0.95 * withdraw,
    spread: 1 + 7 * withdraw,
    drift: t >= 5 && t < 65 ? -0.03 / 60 : t >= 80 && t < 260 ? 0.015 / 180 : 0,
    sellShare: 0.5 + 0.3 * surge,
    tradeRate: 1 + 4 * surge,
  };
}

export type ScenarioName = 'default' | 'calm' | 'cascade';

/** Scenario seconds at which cascades start. */
export function cascadeStarts(scenario: ScenarioName): { first: number; every: number } | null {
  switch (scenario) {
    case 'calm':
      return null;
    case 'cascade':
      return { first: 5, every: 600 };
    default:
      return { first: 75, every: 600 };
  }
}
