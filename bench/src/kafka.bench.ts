/**
 * Kafka path: events/s from publish to consumer handler through the real local broker, with our
 * KafkaBus (compiled serializers, batching send loop, schema-validating consumer) beside bare
 * kafkajs with JSON.stringify / JSON.parse. Same events (the engine benchmark's md.book deltas,
 * ~60 levels, ~1.1 kB each), same keys (venue:symbol over 6 symbols), same partitions (4), same
 * producer guarantees (idempotent, acks=all, one request in flight), same codec and batch size as
 * KafkaBus's defaults. Each run: publish N events, time until the consumer has handled all N.
 */
import { randomUUID } from 'node:crypto';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { KafkaBus } from '@depthwatch/bus';
import type { BookDelta } from '@depthwatch/schemas';
import { ensureKafka } from '../../infra/local/ensure.ts';
import { makeBookStream } from './book-stream.ts';
import { log, main, waitFor, type BenchResult } from './common.ts';
import { unavailable, withPeer, type Figure } from './harness.ts';

const GROUP = 'kafka';
const N = Number(process.env['BENCH_KAFKA_EVENTS'] ?? 10_000);
const RUNS = Number(process.env['BENCH_KAFKA_RUNS'] ?? 3);
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'XRP/USDT', 'DOGE/USDT', 'BNB/USDT'];
const BATCH = 2000;
const BATCH_BYTES = 512 * 1024;
/** Unset: KafkaBus's default codec (and the same for the bare peer). */
const CODEC = process.env['BENCH_KAFKA_CODEC'] as 'gzip' | 'none' | undefined;

export async function run(): Promise<BenchResult> {
  let brokers: string;
  try {
    brokers = await ensureKafka();
  } catch (err) {
    return { figures: [unavailable(GROUP, 'produce → consume, KafkaBus', 'events/s', `Kafka: ${(err as Error).message.split('\n')[0]}`)] };
  }
  const stream = makeBookStream({ targetLevels: N * 61 });
  const events: BookDelta[] = stream.deltas.slice(0, N).map((d, i) => ({ ...d, symbol: SYMBOLS[i % SYMBOLS.length] }));
  const bytes = events.reduce((a, e) => a + JSON.stringify(e).length, 0) / events.length;

  // ---- ours
  let codec = 'gzip';
  const ours = async (): Promise<number> => {
    const prefix = `bench${Date.now()}-${randomUUID().slice(0, 6)}.`;
    const bus = await KafkaBus.connect({ brokers: [brokers], clientId: 'bench-kafkabus', topicPrefix: prefix, groupPrefix: prefix, lagPollMs: 0, ...(CODEC ? { compression: CODEC } : {}) });
    codec = (bus as unknown as { opts: { compression: string } }).opts.compression;
    let got = 0;
    await bus.subscribe('md.book', () => void got++);
    const t0 = performance.now();
    for (const e of events) bus.publish('md.book', `${e.venue}:${e.symbol}`, e);
    await waitFor('KafkaBus consumer to receive every event', () => got >= N, 60_000, 2);
    const rate = N / ((performance.now() - t0) / 1000);
    await bus.close();
    return rate;
  };

  // ---- bare kafkajs
  const kafka = new Kafka({ clientId: 'bench-bare', brokers: [brokers], logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  const bare = async (): Promise<number> => {
    const topic = `bench-bare-${Date.now()}-${randomUUID().slice(0, 6)}`;
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 4 }] });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    const consumer = kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 100, maxBytesPerPartition: 1_048_576, maxBytes: 8_388_608 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let got = 0;
    let sink = 0;
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, () => void (joined = true));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          sink += (JSON.parse(m.value!.toString('utf8')) as BookDelta).seq;
          got++;
        }
      },
    });
    // Like KafkaBus.subscribe, do not start the clock before the group is joined.
    await waitFor('bare consumer group join', () => joined, 60_000, 5);
    const t0 = performance.now();
    const compression = codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
    // Batches bounded like KafkaBus's: at most BATCH messages and BATCH_BYTES of values.
    let messages: { key: string; value: string }[] = [];
    let size = 0;
    for (let i = 0; i < N; i++) {
      const e = events[i];
      const value = JSON.stringify(e);
      messages.push({ key: `${e.venue}:${e.symbol}`, value });
      size += value.length;
      if (messages.length >= BATCH || size >= BATCH_BYTES || i === N - 1) {
        await producer.send({ topic, acks: -1, compression, messages });
        messages = [];
        size = 0;
      }
    }
    await waitFor('bare consumer to receive every event', () => got >= N, 60_000, 2);
    const rate = N / ((performance.now() - t0) / 1000);
    if (sink === 0) log('');
    await consumer.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    return rate;
  };

  const oursRuns: number[] = [];
  const bareRuns: number[] = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      oursRuns.push(await ours());
      bareRuns.push(await bare());
      log(`kafka run ${r + 1}: KafkaBus ${(oursRuns[r] / 1e3).toFixed(1)} k events/s, bare kafkajs ${(bareRuns[r] / 1e3).toFixed(1)} k events/s`);
    }
  } finally {
    await admin.disconnect();
  }
  const figures: Figure[] = [
    withPeer(
      {
        group: GROUP,
        name: 'md.book events publish → consumer handler, KafkaBus',
        unit: 'events/s',
        runs: oursRuns,
        note:
          `${N} book deltas per run (~${bytes.toFixed(0)} B JSON, ~61 levels each = ${((N * 61) / 1000).toFixed(0)} k level updates), 4 partitions, codec ${codec}, idempotent acks=all, batches of ≤ ${BATCH} records and ≤ 512 KiB (KafkaBus defaults); ` +
          `timed from the first publish until the consumer handled the last event (includes the consumer's first fetch). ` +
          `Peer: bare kafkajs producer.send of the same batches (JSON.stringify) and an eachBatch consumer doing JSON.parse.`,
      },
      'bare kafkajs + JSON.stringify/parse',
      bareRuns,
    ),
  ];
  return { figures };
}

main(import.meta.url, run);
