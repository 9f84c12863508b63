import type { AlertSeverity } from '@depthwatch/schemas';
import type { EngineConfig } from '../config.ts';

/** Everything the detector looks at for one scope (symbol or asset) and one book side at one second. */
export interface CascadeInput {
  /** Evaluation time (ms, event time, a whole second). */
  ts: number;
  /** Liquidation notional (quote) hitting this side in the window (longs liquidated → bid side). */
  liqNotional: number;
  /** Prior liquidation rate (quote/s) over the baseline horizon before the window; NaN without history. */
  liqPriorRate: number;
  /** Trailing percentile (liqPercentile) of the window notional; NaN without history. */
  liqPercentile: number;
  /** Same-side 2 % depth (quote) now, and its baseline. */
  depth: number;
  depthBaseline: number;
  spreadBps: number;
  spreadBaselineBps: number;
  /** Mid move within the window in the liquidation direction, % (positive = in that direction). */
  priceMovePct: number;
  /** Venues of the asset whose same-side 2 % depth collapsed (≤ baseline / depthCollapseFactor). */
  collapsedVenues: number;
  /** The detector may fire (baselines warmed up). */
  warm: boolean;
}

export type Condition = 'pressure' | 'acceleration' | 'depth_collapse' | 'spread' | 'price_move' | 'void' | 'multi_venue_collapse';

export interface CascadeVerdict {
  threshold: number;
  pressure: boolean;
  acceleration: boolean;
  confirmations: Condition[];
  /** null = no pressure. */
  severity: AlertSeverity | null;
  conditions: Condition[];
}

const SEVERITY_RANK: Record<AlertSeverity, number> = { watch: 1, warning: 2, critical: 3 };

export function severityRank(s: AlertSeverity | null): number {
  return s === null ? 0 : SEVERITY_RANK[s];
}

/** Pressure threshold of a window: max(floor, trailing percentile). */
export function pressureThreshold(floor: number, percentile: number): number {
  return Number.isFinite(percentile) ? Math.max(floor, percentile) : floor;
}

/**
 * The staged rule, stateless:
 *  pressure     = window notional ≥ max(floor, trailing p99) and ≥ pressureDepthFraction × 2 % depth baseline
 *  acceleration = window rate ≥ accelerationFactor × prior rate (true when there is no prior history)
 *  confirmations: depth_collapse (2 % depth ≤ baseline / depthCollapseFactor), spread (≥ spreadFactor ×
 *  baseline), price_move (≥ priceMovePct in the liquidation direction), void (window notional > 2 % depth now)
 *  watch = pressure; warning = pressure + acceleration + ≥ 1 confirmation;
 *  critical = pressure + (≥ 2 confirmations, or depth collapse on ≥ collapseVenues venues of the asset).
 */
export function judge(input: CascadeInput, floor: number, cfg: EngineConfig): CascadeVerdict {
  const threshold = pressureThreshold(floor, input.liqPercentile);
  const depthGate = Number.isFinite(input.depthBaseline) ? cfg.pressureDepthFraction * input.depthBaseline : Infinity;
  const pressure = input.warm && input.liqNotional > 0 && input.liqNotional >= threshold && input.liqNotional >= depthGate;
  const rate = input.liqNotional / cfg.windowSec;
  const acceleration = !Number.isFinite(input.liqPriorRate) || rate >= cfg.accelerationFactor * input.liqPriorRate;
  const confirmations: Condition[] = [];
  if (Number.isFinite(input.depthBaseline) && input.depthBaseline > 0 && input.depth <= input.depthBaseline / cfg.depthCollapseFactor) {
    confirmations.push('depth_collapse');
  }
  if (input.spreadBaselineBps > 0 && input.spreadBps >= cfg.spreadFactor * input.spreadBaselineBps) confirmations.push('spread');
  if (input.priceMovePct >= cfg.priceMovePct) confirmations.push('price_move');
  if (Number.isFinite(input.depth) && input.liqNotional > input.depth) confirmations.push('void');
  const multi = input.collapsedVenues >= cfg.collapseVenues;
  let severity: AlertSeverity | null = null;
  if (pressure) {
    if (confirmations.length >= 2 || multi) severity = 'critical';
    else if (acceleration && confirmations.length >= 1) severity = 'warning';
    else severity = 'watch';
  }
  const conditions: Condition[] = [];
  if (pressure) conditions.push('pressure');
  if (pressure && acceleration) conditions.push('acceleration');
  conditions.push(...confirmations);
  if (multi) conditions.push('multi_venue_collapse');
  return { threshold, pressure, acceleration, confirmations, severity, conditions };
}

export type Transition = 'open' | 'update' | 'resolved';

/** Lifecycle of one scope+side: opening, escalation, periodic updates, hysteresis. */
export class CascadeTracker {
  active = false;
  severity: AlertSeverity = 'watch';
  startTs = 0;
  /** Pressure threshold when the alert opened: the hysteresis reference. */
  openThreshold = 0;
  calmSeconds = 0;
  lastPublishTs = 0;
  stage = '';
  /** Alerts opened so far (part of the id so a re-open is a new alert). */
  opened = 0;

  /**
   * Advances one evaluation; returns the transition to publish, if any. Severity only rises while
   * an alert is open (it reports the worst stage reached); the alert resolves after `clearAfterSec`
   * consecutive seconds with window notional below clearFraction × threshold.
   */
  step(input: CascadeInput, verdict: CascadeVerdict, cfg: EngineConfig): Transition | null {
    if (!this.active) {
      if (verdict.severity === null) return null;
      this.active = true;
      this.opened++;
      this.severity = verdict.severity;
      this.startTs = input.ts;
      this.openThreshold = verdict.threshold;
      this.calmSeconds = 0;
      this.lastPublishTs = input.ts;
      this.stage = verdict.conditions.join('+');
      return 'open';
    }
    const ref = Math.max(this.openThreshold, verdict.threshold);
    if (input.liqNotional < cfg.clearFraction * ref) this.calmSeconds++;
    else this.calmSeconds = 0;
    if (this.calmSeconds >= cfg.clearAfterSec) {
      this.active = false;
      this.stage = 'resolved';
      this.lastPublishTs = input.ts;
      return 'resolved';
    }
    const escalated = verdict.severity !== null && severityRank(verdict.severity) > severityRank(this.severity);
    if (escalated) this.severity = verdict.severity!;
    const stage = verdict.conditions.length > 0 ? verdict.conditions.join('+') : 'cooling';
    if (escalated || input.ts - this.lastPublishTs >= cfg.updateEverySec * 1000) {
      this.stage = stage;
      this.lastPublishTs = input.ts;
      return 'update';
    }
    return null;
  }
}
