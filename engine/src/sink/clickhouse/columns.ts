import { BAND_PCTS, CAPACITY_BPS, SLIPPAGE_NOTIONALS } from '@depthwatch/schemas';
import { FLOW_WINDOWS_SEC } from '../../core.ts';

/**
 * Column-name fragments for the wide depth table, derived from the shared band / slippage /
 * capacity constants so the schema, the sink and the history reader cannot drift apart.
 * 0.1 % → `0_1`, 2 % → `2`; 10 000 → `10k`, 1 000 000 → `1m`.
 */
export function pctSuffix(pct: number): string {
  return String(pct).replace('.', '_');
}

export function notionalSuffix(n: number): string {
  if (n >= 1_000_000 && n % 1_000_000 === 0) return `${n / 1_000_000}m`;
  if (n >= 1_000 && n % 1_000 === 0) return `${n / 1_000}k`;
  return String(n);
}

export interface BandColumns {
  pct: number;
  bidBase: string;
  askBase: string;
  bidQuote: string;
  askQuote: string;
  bidTruncated: string;
  askTruncated: string;
}

export const BAND_COLUMNS: readonly BandColumns[] = BAND_PCTS.map((pct) => {
  const s = pctSuffix(pct);
  return {
    pct,
    bidBase: `bid_base_${s}`,
    askBase: `ask_base_${s}`,
    bidQuote: `bid_quote_${s}`,
    askQuote: `ask_quote_${s}`,
    bidTruncated: `bid_truncated_${s}`,
    askTruncated: `ask_truncated_${s}`,
  };
});

export const SLIPPAGE_COLUMNS = SLIPPAGE_NOTIONALS.map((notional) => {
  const s = notionalSuffix(notional);
  return { notional, buy: `slippage_buy_bps_${s}`, sell: `slippage_sell_bps_${s}` };
});

export const CAPACITY_COLUMNS = CAPACITY_BPS.map((bps) => ({ bps, buy: `capacity_buy_quote_${bps}bps`, sell: `capacity_sell_quote_${bps}bps` }));

/** asset_depth liquidation flow windows (10 / 60 / 300 s) flattened: `liq_long_notional_10s`, … */
export const FLOW_COLUMNS = FLOW_WINDOWS_SEC.map((w) => ({
  windowSec: w as number,
  longNotional: `liq_long_notional_${w}s`,
  shortNotional: `liq_short_notional_${w}s`,
  longCount: `liq_long_count_${w}s`,
  shortCount: `liq_short_count_${w}s`,
  longLargest: `liq_long_largest_${w}s`,
  shortLargest: `liq_short_largest_${w}s`,
}));
