import type { Topic, TopicEvents } from './topics.ts';

/** How a record reached a handler. */
export interface DeliveryInfo {
  /**
   * The record is re-delivered by a `fromBeginning` rewind and had already been consumed by this
   * consumer group before (its offset is below the group's committed offset at the rewind): use it
   * to rebuild state, do not publish its consequences again. Always false on the in-memory bus.
   */
  readonly replay: boolean;
}

export type BusHandler<T extends Topic> = (event: TopicEvents[T], key: string, info: DeliveryInfo) => void;

export interface SubscribeOptions {
  /**
   * Consumers in the same group share the keys (Kafka consumer-group semantics); a consumer that
   * must see everything (a gateway) uses its own group. Ignored by the in-memory bus.
   */
  group?: string;
  /** Start from the oldest retained record instead of new ones (state rebuild). */
  fromBeginning?: boolean;
  /**
   * The group's position is committed only by `bus.commit(mark)` (commit after the records'
   * effects are durable), never automatically; requires `group`, and every subscription of the
   * group must agree. Ignored by buses without `commit`.
   */
  manualCommit?: boolean;
}

/** Opaque position of a consumer group: every record delivered to its handlers in this process when taken. */
export interface DeliveryMark {
  readonly group: string;
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
  /**
   * Checkpointing for `manualCommit` groups, on buses that re-deliver after a restart (Kafka):
   * take a mark, make the effects of every record delivered so far durable, then `commit(mark)`.
   * A restarted group resumes after the last committed mark; records after it are delivered
   * again. Absent on the in-memory bus (nothing survives its process, nothing is re-delivered).
   */
  deliveryMark?(group: string): DeliveryMark;
  commit?(mark: DeliveryMark): Promise<void>;
  /**
   * Back-pressure for a consumer group in this process, on buses with a durable upstream (Kafka):
   * after `pause(group)` no further record is delivered to the group's handlers (not even the rest
   * of a batch already fetched) and nothing is fetched for it; the undelivered records stay in the
   * log and come after `resume(group)`, in order. Other groups are unaffected. Idempotent. Absent
   * on the in-memory bus: publish is synchronous and nothing upstream could hold the records.
   */
  pause?(group: string): void;
  resume?(group: string): void;
}
