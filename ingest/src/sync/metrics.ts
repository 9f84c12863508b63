import { counter, gauge, histogram } from '@depthwatch/ops';
import { SYNC_STATES } from '@depthwatch/schemas';

/**
 * Ingest metrics. Labels stay bounded: venue, channel, reason — never symbol on per-message series.
 * The sync-state gauge is the one per-symbol series (symbols are bounded by config).
 */
export const ingestMetrics = {
  messages: counter<'venue' | 'channel'>({ name: 'depthwatch_ingest_messages_total', help: 'Venue messages received', labelNames: ['venue', 'channel'] }),
  bytes: counter<'venue'>({ name: 'depthwatch_ingest_bytes_total', help: 'Venue bytes received', labelNames: ['venue'] }),
  resyncs: counter<'venue' | 'reason'>({ name: 'depthwatch_ingest_resyncs_total', help: 'Book rebuilds by reason', labelNames: ['venue', 'reason'] }),
  checksumFailures: counter<'venue'>({ name: 'depthwatch_ingest_checksum_failures_total', help: 'Book checksum mismatches (counted even when enforcement is off)', labelNames: ['venue'] }),
  gaps: counter<'venue'>({ name: 'depthwatch_ingest_gaps_total', help: 'Sequence gaps detected', labelNames: ['venue'] }),
  reconnects: counter<'venue'>({ name: 'depthwatch_ingest_reconnects_total', help: 'WebSocket reconnects', labelNames: ['venue'] }),
  parseErrors: counter<'venue' | 'channel'>({ name: 'depthwatch_ingest_parse_errors_total', help: 'Venue messages that could not be parsed or applied', labelNames: ['venue', 'channel'] }),
  snapshotFailures: counter<'venue'>({ name: 'depthwatch_ingest_snapshot_failures_total', help: 'Failed REST snapshot requests', labelNames: ['venue'] }),
  published: counter<'venue' | 'topic'>({ name: 'depthwatch_ingest_events_published_total', help: 'Normalized events published to the bus', labelNames: ['venue', 'topic'] }),
  dropped: counter<'venue' | 'reason'>({ name: 'depthwatch_ingest_events_dropped_total', help: 'Normalized events dropped (held-queue overflow while unsynced)', labelNames: ['venue', 'reason'] }),
  lag: histogram<'venue' | 'channel'>({
    name: 'depthwatch_ingest_feed_lag_seconds',
    help: 'Local receive time minus exchange time (network lag plus clock skew)',
    labelNames: ['venue', 'channel'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  }),
  clockOffset: gauge<'venue'>({ name: 'depthwatch_ingest_clock_offset_seconds', help: 'Median (recvTs - ts) over recent book events per venue', labelNames: ['venue'] }),
  syncState: gauge<'venue' | 'symbol'>({
    name: 'depthwatch_ingest_sync_state',
    help: `Per-symbol sync state as an index into [${SYNC_STATES.join(', ')}]`,
    labelNames: ['venue', 'symbol'],
  }),
  connectionState: gauge<'venue'>({
    name: 'depthwatch_ingest_connection_state',
    help: `Venue connection state (md.status symbol '*') as an index into [${SYNC_STATES.join(', ')}]`,
    labelNames: ['venue'],
  }),
  pollRequests: counter<'venue' | 'poll'>({ name: 'depthwatch_ingest_poll_requests_total', help: 'Polled REST channel requests sent', labelNames: ['venue', 'poll'] }),
  pollFailures: counter<'venue' | 'poll' | 'reason'>({
    name: 'depthwatch_ingest_poll_failures_total',
    help: 'Polled REST channel requests that failed (reason http: no answer or non-2xx; parse: unusable body)',
    labelNames: ['venue', 'poll', 'reason'],
  }),
  pollAge: gauge<'venue' | 'poll'>({
    name: 'depthwatch_ingest_poll_age_seconds',
    help: "Age of the oldest symbol's last successful poll answer (per venue and poll)",
    labelNames: ['venue', 'poll'],
  }),
  connections: gauge<'venue'>({ name: 'depthwatch_ingest_open_connections', help: 'Open venue WebSocket connections', labelNames: ['venue'] }),
};
