import { counter, gauge, histogram } from '@depthwatch/ops';

/** Gateway metrics (one registry per process: several gateways in one process share the series). */
export const gatewayMetrics = {
  connections: gauge({ name: 'depthwatch_gateway_connections', help: 'Open WebSocket connections' }),
  subscriptions: gauge({ name: 'depthwatch_gateway_subscriptions', help: 'Active stream subscriptions' }),
  messagesSent: counter({ name: 'depthwatch_gateway_messages_sent_total', help: 'Messages delivered to clients (inside frames)' }),
  bytesSent: counter({ name: 'depthwatch_gateway_bytes_sent_total', help: 'WebSocket payload bytes written to clients' }),
  framesSent: counter({ name: 'depthwatch_gateway_frames_sent_total', help: 'WebSocket frames written to clients (at most one per client per flush pass)' }),
  conflated: counter<'channel'>({
    name: 'depthwatch_gateway_conflated_total',
    help: 'Updates replaced by a newer one for the same stream before delivery (per client)',
    labelNames: ['channel'],
  }),
  dropped: counter<'channel'>({
    name: 'depthwatch_gateway_dropped_total',
    help: 'Non-conflatable messages dropped for behind clients (each announced with a dropped notice)',
    labelNames: ['channel'],
  }),
  slowDisconnects: counter({ name: 'depthwatch_gateway_slow_disconnects_total', help: 'Clients disconnected for staying behind' }),
  deadTerminated: counter({ name: 'depthwatch_gateway_dead_clients_total', help: 'Clients terminated for missing a keepalive pong' }),
  refused: counter<'reason'>({
    name: 'depthwatch_gateway_refused_total',
    help: 'Refused connections and requests by reason (error code)',
    labelNames: ['reason'],
  }),
  fanoutLatency: histogram({
    name: 'depthwatch_gateway_fanout_latency_seconds',
    help: 'Bus receipt of the oldest message in a frame to the frame being written to the socket',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
  historyRequests: counter<'kind' | 'status'>({
    name: 'depthwatch_gateway_history_requests_total',
    help: 'History API requests by kind and HTTP status',
    labelNames: ['kind', 'status'],
  }),
};
