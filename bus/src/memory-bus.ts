import type { Bus, BusHandler, Topic, TopicEvents } from '@depthwatch/schemas';

type AnyHandler = (event: unknown, key: string) => void;

/**
 * In-process bus: delivers synchronously, in publish order, to every subscriber (no groups: one
 * process owns every key). A throwing handler is counted and isolated so one stage cannot stop
 * another from receiving.
 */
export class MemoryBus implements Bus {
  private readonly handlers = new Map<Topic, AnyHandler[]>();
  handlerErrors = 0;
  published = 0;
  onHandlerError: (topic: Topic, err: unknown) => void = () => {};

  publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void {
    this.published++;
    const list = this.handlers.get(topic);
    if (!list) return;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](event, key);
      } catch (err) {
        this.handlerErrors++;
        this.onHandlerError(topic, err);
      }
    }
  }

  async subscribe<T extends Topic>(topic: T, handler: BusHandler<T>): Promise<() => Promise<void>> {
    const list = this.handlers.get(topic) ?? [];
    // Copy-on-write so unsubscribing during delivery does not skip a neighbour.
    this.handlers.set(topic, [...list, handler as AnyHandler]);
    return async () => {
      const current = this.handlers.get(topic) ?? [];
      this.handlers.set(topic, current.filter((h) => h !== handler));
    };
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
