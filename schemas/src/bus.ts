import type { Topic, TopicEvents } from './topics.ts';

export type BusHandler<T extends Topic> = (event: TopicEvents[T], key: string) => void;

export interface SubscribeOptions {
  /**
   * Consumers in the same group share the keys (Kafka consumer-group semantics); a consumer that
   * must see everything (a gateway) uses its own group. Ignored by the in-memory bus.
   */
  group?: string;
  /** Start from the oldest retained record instead of new ones (state rebuild). */
  fromBeginning?: boolean;
}

/**
 * The only channel between stages. Publish is synchronous and never throws for back-pressure:
 * implementations buffer and report through metrics. Events are immutable once published.
 */
export interface Bus {
  publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void;
  subscribe<T extends Topic>(topic: T, handler: BusHandler<T>, options?: SubscribeOptions): Promise<() => Promise<void>>;
  /** Resolves when everything published so far has been handed to the transport. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
