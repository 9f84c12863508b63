import type { Bus, BusHandler, DeliveryInfo, Topic, TopicEvents } from '@depthwatch/schemas';
import { counter, logger } from '@depthwatch/ops';

// Same series as the Kafka bus: ops see handler failures whichever bus a deployment uses.
const handlerErrorsTotal = counter<'topic'>({ name: 'depthwatch_bus_handler_errors_total', help: 'Exceptions thrown by bus handlers (isolated, record skipped for that handler)', labelNames: ['topic'] });
const log = logger('bus.memory');

type AnyHandler = (event: unknown, key: string, info: DeliveryInfo) => void;

const LIVE: DeliveryInfo = Object.freeze({ replay: false });

/**
 * In-process bus: delivers synchronously, in publish order, to every subscriber (no groups: one
 * process owns every key). A throwing handler is counted and isolated so one stage cannot stop
 * another from receiving.
 */
export class MemoryBus implements Bus {
  private readonly handlers = new Map<Topic, AnyHandler[]>();
  handlerErrors = 0;
  published = 0;
  private lastErrorLog = 0;
  onHandlerError: (topic: Topic, err: unknown) => void = (topic, err) => {
    // Rate limited: a handler failing on every event must not flood the log.
    const now = Date.now();
    if (now - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = now;
    log.error({ err, topic }, 'bus handler failed (counted in depthwatch_bus_handler_errors_total; further errors suppressed for 10 s)');
  };

  publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void {
    this.published++;
    const list = this.handlers.get(topic);
    if (!list) return;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i](event, key, LIVE);
      } catch (err) {
        this.handlerErrors++;
        handlerErrorsTotal.labels(topic).inc();
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
