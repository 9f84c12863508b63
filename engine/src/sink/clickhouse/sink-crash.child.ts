/**
 * Child process for sink-crash.int.test.ts: a ClickHouse sink on a Kafka bus, as the engine
 * process runs it (default flushMs 1 s). Prints "sink ready" once subscribed, then its stats as
 * one JSON line every 50 ms, so the test can SIGKILL it while rows are buffered.
 *
 *   node --import tsx sink-crash.child.ts <brokers> <topicPrefix> <group> <clickhouseUrl> <database>
 */
import { KafkaBus } from '@depthwatch/bus';
import { startClickHouseSink } from './sink.ts';

const [brokers, topicPrefix, group, url, database] = process.argv.slice(2);
if (!database) throw new Error('usage: sink-crash.child.ts <brokers> <topicPrefix> <group> <clickhouseUrl> <database>');
const bus = await KafkaBus.connect({ brokers: brokers.split(','), clientId: `${group}-${process.pid}`, topicPrefix, lagPollMs: 0 });
const sink = await startClickHouseSink({ bus, url, database, group });
console.log('sink ready');
const stats = setInterval(() => console.log(`stats ${JSON.stringify(sink.stats)}`), 50);
process.once('SIGTERM', () => {
  clearInterval(stats);
  void sink
    .close()
    .then(() => bus.close())
    .then(() => process.exit(0));
});
