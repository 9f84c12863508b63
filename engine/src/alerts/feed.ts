import type { AlertSeverity, FeedStatus, SyncState } from '@depthwatch/schemas';

/** Feed states that raise a feed-health alert, and their severity. */
export const FEED_ALERT_SEVERITY: Partial<Record<SyncState, AlertSeverity>> = {
  stale: 'warning',
  down: 'critical',
};

export interface FeedTransition {
  state: 'open' | 'update' | 'resolved';
  severity: AlertSeverity;
  startTs: number;
  stage: SyncState;
  opened: number;
}

/**
 * Feed health of one venue:symbol stream (symbol '*' = the whole connection), from md.status.
 * Opens on stale/down, updates when the state changes while still unhealthy, resolves on `synced`.
 */
export class FeedTracker {
  active = false;
  severity: AlertSeverity = 'warning';
  startTs = 0;
  stage: SyncState = 'synced';
  opened = 0;
  state: SyncState = 'connecting';

  onStatus(ev: FeedStatus): FeedTransition | null {
    const prev = this.state;
    this.state = ev.state;
    const sev = FEED_ALERT_SEVERITY[ev.state];
    if (!this.active) {
      if (!sev) return null;
      this.active = true;
      this.opened++;
      this.severity = sev;
      this.startTs = ev.ts;
      this.stage = ev.state;
      return { state: 'open', severity: sev, startTs: ev.ts, stage: ev.state, opened: this.opened };
    }
    if (ev.state === 'synced') {
      this.active = false;
      return { state: 'resolved', severity: this.severity, startTs: this.startTs, stage: 'synced', opened: this.opened };
    }
    if (ev.state === prev) return null;
    // Still unhealthy (or recovering through connecting/syncing/resyncing): report the change.
    if (sev && sev !== this.severity) this.severity = sev;
    this.stage = ev.state;
    return { state: 'update', severity: this.severity, startTs: this.startTs, stage: ev.state, opened: this.opened };
  }

  /** The stream is usable for depth aggregation. */
  get healthy(): boolean {
    return this.state !== 'stale' && this.state !== 'down';
  }
}
