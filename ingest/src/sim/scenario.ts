/**
 * Liquidation-cascade profile as multipliers on the calm market, by scenario seconds since the
 * cascade began. Order of events (as in real leverage cascades, e.g. 19 May 2021, 10 Oct 2025):
 *
 *   0–4 s    price shock: −0.5 %; it trips the first stops and liquidations
 *   2–5 s    liquidation surge ramps up (longs liquidated: market sells into the bids) to a burst
 *            (5–14 s), holds to 25 s, then decays (τ 8 s) and is over by ~90 s. Individual
 *            liquidations are large (1.5/s at surge 1, each a mean 3.3 % of the instrument's calm 2 %
 *            bid depth; 2.1/s of 4.6 % in the burst), so even Binance's one-per-second forceOrder
 *            sample sums to ~50 % of the 2 % bid depth per minute (a complete feed sees ~2×)
 *   4–60 s   price keeps sliding under the forced selling: −1 % at ~30 s, −3 % at ~60 s
 *   30–42 s  liquidity withdraws: every resting bid is cut to 1/20, the spread widens 10×
 *            (5× at ~35 s, depth ÷10 at ~41 s); held until 75 s
 *   75 s →   depth and spread recover (τ 30 s); 80–260 s price claws back half the fall
 *
 * The market applies the profile per asset on every venue at once; see `README.md`.
 */
export interface CascadeEffect {
  /** Multiplier on the calm liquidation count rate. */
  liquidationRate: number;
  /**
   * Mean notional of one liquidation as a fraction of the instrument's calm 2 % depth on the side
   * it hits; 0 = calm sizes.
   */
  liquidationSize: number;
  longShare: number;
  /** Multiplier on every resting bid (liquidity withdrawal). */
  bidDepth: number;
  /** Multiplier on the calm spread (in ticks). */
  spread: number;
  /** Mid drift as a fraction of price per scenario second. */
  drift: number;
  sellShare: number;
  tradeRate: number;
}

export const CALM: CascadeEffect = { liquidationRate: 1, liquidationSize: 0, longShare: 0.5, bidDepth: 1, spread: 1, drift: 0, sellShare: 0.5, tradeRate: 1 };

export const CASCADE_SECONDS = 300;

/** Liquidation surge intensity at `t` seconds into the cascade: a 1.4 burst (5–14 s), 1 until 25 s, then decay. */
export function surge(t: number): number {
  if (t < 2 || t >= 90) return 0;
  if (t < 5) return (1.4 * (t - 2)) / 3;
  if (t < 14) return 1.4;
  if (t < 25) return 1;
  return Math.exp(-(t - 25) / 8);
}

/** Liquidity withdrawal 0…1 at `t` seconds into the cascade. */
export function withdrawal(t: number): number {
  if (t < 30) return 0;
  if (t < 42) return (t - 30) / 12;
  if (t < 75) return 1;
  return Math.exp(-(t - 75) / 30);
}

/** Mid drift (fraction of price per second) at `t` seconds into the cascade. */
function drift(t: number): number {
  if (t < 0) return 0;
  if (t < 4) return -0.005 / 4; // the shock
  if (t < 30) return -0.005 / 26; // forced selling: −1 % at 30 s
  if (t < 60) return -0.02 / 30; // −3 % at 60 s
  if (t >= 80 && t < 260) return 0.015 / 180; // half the fall clawed back
  return 0;
}

export function cascadeEffect(t: number): CascadeEffect {
  if (t < 0 || t >= CASCADE_SECONDS) return CALM;
  const s = surge(t);
  const w = withdrawal(t);
  return {
    liquidationRate: 1 + 29 * s,
    liquidationSize: 0.033 * s,
    longShare: 0.5 + 0.47 * s,
    bidDepth: 1 - 0.95 * w,
    spread: 1 + 9 * w,
    drift: drift(t),
    sellShare: 0.5 + 0.3 * Math.max(s, w),
    tradeRate: 1 + 4 * s,
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
