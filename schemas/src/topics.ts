import type { Alert, AssetDepth, BookEvent, DepthMetrics, FeedStatus, Liquidation, Ticker, Trade } from './events.ts';

export interface TopicEvents {
  'md.book': BookEvent;
  'md.trade': Trade;
  'md.liquidation': Liquidation;
  'md.ticker': Ticker;
  'md.status': FeedStatus;
  'out.depth': DepthMetrics | AssetDepth;
  'out.alert': Alert;
}

export type Topic = keyof TopicEvents;

export const TOPICS: readonly Topic[] = [
  'md.book',
  'md.trade',
  'md.liquidation',
  'md.ticker',
  'md.status',
  'out.depth',
  'out.alert',
];

export function isTopic(value: unknown): value is Topic {
  return typeof value === 'string' && (TOPICS as readonly string[]).includes(value);
}
