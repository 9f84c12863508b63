export { MemoryBus } from './memory-bus.ts';
export { KafkaBus, TOPIC_EVENT_TYPES, type KafkaBusOptions } from './kafka-bus.ts';
