import { randomUUID } from 'node:crypto';
import {
  AssignerProtocol,
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel,
  type Admin,
  type Assigner,
  type Consumer,
  type EachBatchPayload,
  type LogEntry,
  type PartitionAssigner,
  type Producer,
} from 'kafkajs';
import {
  TOPICS,
  parseEvent,
  serializeEvent,
  type AnyEvent,
  type Bus,
  type BusHandler,
  type DeliveryInfo,
  type DeliveryMark,
  type EventType,
  type SubscribeOptions,
  type Topic,
  type TopicEvents,
} from '@depthwatch/schemas';
import { LATENCY_BUCKETS, counter, gauge, histogram, logger, type Logger } from '@depthwatch/ops';

/** Event types a record on each topic may carry; anything else is a bad record. */
export const TOPIC_EVENT_TYPES: Readonly<Record<Topic, readonly EventType[]>> = {
  'md.book': ['book_snapshot', 'book_delta'],
  'md.trade': ['trade'],
  'md.liquidation': ['liquidation'],
  'md.ticker': ['ticker'],
  'md.status': ['status'],
  'out.depth': ['depth', 'asset_depth'],
  'out.alert': ['alert'],
};

export interface KafkaBusOptions {
  brokers: string[];
  clientId: string;
  /** Prepended to every consumer group id (lets tests and deployments share a broker). */
  groupPrefix?: string;
  /** Partitions per topic when this bus creates the topics (default 4). Existing topics are left as they are. */
  partitions?: number;
  /**
   * Record-batch codec (default 'gzip'). Measured with bus/src/kafka-compression-bench.ts on the
   * local broker: 4–10× fewer bytes on the wire and on disk (trade 242 → 24 B, book delta 350 → 72 B,
   * depth 1 782 → 457 B per record) at equal or better throughput and about the same producer CPU.
   */
  compression?: 'gzip' | 'none';
  /** Prepended to every topic name ('t123.' → 't123.md.book'); isolates test runs. */
  topicPrefix?: string;
  /** Send a batch as soon as this many messages are pending (default 2 000). */
  batchMaxMessages?: number;
  /**
   * A batch also stops at this many bytes of keys + values (default 512 KiB), which keeps every
   * per-partition record batch below the broker's message.max.bytes (1 MiB by default).
   */
  batchMaxBytes?: number;
  /** Otherwise send pending messages this many ms after the first one was queued (default 5). */
  lingerMs?: number;
  /** Bound on queued-but-unacknowledged messages; beyond it new messages are dropped and counted (default 200 000). */
  maxPending?: number;
  /** How often consumer lag is polled through the admin client (default 5 000 ms; 0 disables). */
  lagPollMs?: number;
  /**
   * `fromBeginning: true` normally replays from the oldest retained record. With a rewind window the
   * replay starts at the first record produced at or after now − rewindMs instead (per topic),
   * which is enough to rebuild books because collectors publish a snapshot at least every 60 s.
   */
  rewindMs?: Partial<Record<Topic, number>>;
  /** retention.ms given to topics this bus creates (default: md.book 1 h, others the broker default). */
  retentionMs?: Partial<Record<Topic, number>>;
}

const DEFAULT_RETENTION_MS: Partial<Record<Topic, number>> = { 'md.book': 3_600_000 };

const producedTotal = counter<'topic'>({ name: 'depthwatch_bus_produced_total', help: 'Records acknowledged by Kafka', labelNames: ['topic'] });
const consumedTotal = counter<'topic'>({ name: 'depthwatch_bus_consumed_total', help: 'Valid records delivered to handlers', labelNames: ['topic'] });
const badRecordsTotal = counter<'topic'>({ name: 'depthwatch_bus_bad_records_total', help: 'Records that failed to parse or validate and were skipped', labelNames: ['topic'] });
const handlerErrorsTotal = counter<'topic'>({ name: 'depthwatch_bus_handler_errors_total', help: 'Exceptions thrown by bus handlers (isolated, record skipped for that handler)', labelNames: ['topic'] });
const droppedTotal = counter<'topic'>({ name: 'depthwatch_bus_dropped_total', help: 'Records dropped because the producer queue was full', labelNames: ['topic'] });
const produceFailuresTotal = counter({ name: 'depthwatch_bus_produce_failures_total', help: 'Failed batch sends (retried)' });
const produceBatchesTotal = counter({ name: 'depthwatch_bus_produce_batches_total', help: 'Batches acknowledged by Kafka' });
const produceLatency = histogram({
  name: 'depthwatch_bus_produce_latency_seconds',
  help: 'Enqueue-to-acknowledgement time of the oldest record in each produced batch',
  buckets: LATENCY_BUCKETS,
});
const pendingGauge = gauge({ name: 'depthwatch_bus_pending_messages', help: 'Records queued in producers and not yet acknowledged' });
const lagGauge = gauge<'topic' | 'group'>({
  name: 'depthwatch_bus_consumer_lag',
  help: 'Records between the group committed offset and the log end, summed over partitions',
  labelNames: ['topic', 'group'],
});

interface Pending {
  topic: Topic;
  key: string;
  value: string;
  t: number;
}

type AnyHandler = (event: unknown, key: string, info: DeliveryInfo) => void;

const LIVE: DeliveryInfo = Object.freeze({ replay: false });
const REPLAY: DeliveryInfo = Object.freeze({ replay: true });

/** Position of one partition of a manual-commit group: the offset after the last record delivered. */
interface PartitionPosition {
  /** Physical topic name. */
  topic: string;
  partition: number;
  offset: number;
  /** Ownership epoch: bumped every time this member (re)gains the partition. */
  epoch: number;
}

interface KafkaDeliveryMark extends DeliveryMark {
  readonly groupId: string;
  readonly positions: readonly PartitionPosition[];
}

/**
 * Co-partitioning assigner: for every topic, partition p goes to the p-th (mod n) of the members
 * subscribed to that topic, members sorted by id. When all members of a group subscribe the same
 * topics (the engine: md.book, md.trade, md.liquidation …) one member owns the same partition
 * number — hence the same venue:symbol keys — on every topic, which is what per-symbol state
 * (books next to liquidations) needs. It also never hands a member a topic it did not subscribe to
 * (kafkajs' RoundRobinAssigner does).
 */
const CoPartitionAssigner: PartitionAssigner = ({ cluster }) => {
  const assigner: Assigner = {
    name: 'DepthwatchCoPartition',
    version: 0,
    async assign({ members, topics }) {
      const subs = new Map<string, string[]>();
      for (const m of members) {
        const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
        for (const t of meta?.topics ?? topics) {
          const list = subs.get(t) ?? [];
          list.push(m.memberId);
          subs.set(t, list);
        }
      }
      const result = new Map<string, Record<string, number[]>>();
      for (const m of members) result.set(m.memberId, {});
      for (const topic of topics) {
        const owners = (subs.get(topic) ?? []).sort();
        if (owners.length === 0) continue;
        const parts = cluster
          .findTopicPartitionMetadata(topic)
          .map((p) => p.partitionId)
          .sort((a, b) => a - b);
        for (const p of parts) {
          const owner = owners[p % owners.length];
          const a = result.get(owner)!;
          (a[topic] ??= []).push(p);
        }
      }
      return [...result].map(([memberId, assignment]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }),
      }));
    },
    protocol({ topics }) {
      return { name: 'DepthwatchCoPartition', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
  };
  return assigner;
};

function kafkaLogCreator(log: Logger) {
  return () =>
    ({ level, namespace, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      const fields = { kafkajs: namespace, ...rest };
      // Our own send loop retries failed batches; kafkajs' warning about bounded retries is noise.
      if (typeof message === 'string' && message.startsWith('Limiting retries for the idempotent producer')) return;
      if (level === logLevel.ERROR) log.error(fields, message);
      else if (level === logLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    };
}

/** At most one log line per key per interval; reports how many were suppressed in between. */
class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();
  constructor(private readonly intervalMs: number) {}
  /** Returns the number of suppressed calls to report, or -1 when this call must stay silent. */
  take(key: string): number {
    const now = Date.now();
    const s = this.last.get(key);
    if (!s || now - s.at >= this.intervalMs) {
      const suppressed = s?.suppressed ?? 0;
      this.last.set(key, { at: now, suppressed: 0 });
      return suppressed;
    }
    s.suppressed++;
    return -1;
  }
}

interface TopicSub {
  handlers: AnyHandler[];
  fromBeginning: boolean;
}

/**
 * One kafkajs consumer per consumer group in this process. Subscribing another topic in the same
 * group restarts the consumer with the extended topic list (kafkajs cannot add topics to a running
 * consumer); one consumer per group keeps the co-partitioning assigner meaningful.
 */
class GroupConsumer {
  readonly topics = new Map<Topic, TopicSub>();
  private consumer: Consumer | null = null;
  private chain: Promise<void> = Promise.resolve();
  /** Partitions this member owns, by topic (for lag polling only). */
  assigned: Record<string, number[]> = {};
  /** Last assignment, kept across restarts of this group's consumer so adding a topic does not rewind again. */
  private owned: Record<string, number[]> = {};
  /**
   * By `${topic}/${partition}`: the group's committed offset when a fromBeginning partition was
   * rewound; records below it had been consumed by the group before and are delivered as replays.
   */
  private readonly replayUntil = new Map<string, number>();
  /** Manual commit: next offset after the last record delivered, per owned partition. */
  private readonly delivered = new Map<string, PartitionPosition>();
  /** Manual commit: ownership epoch per owned partition, and the highest offset known committed in it. */
  private readonly epochs = new Map<string, number>();
  private readonly committed = new Map<string, number>();
  private epochSeq = 0;
  /** Back-pressure from the group's handlers: deliver and fetch nothing until resumed. */
  private paused = false;

  constructor(
    private readonly bus: KafkaBus,
    readonly groupId: string,
    readonly ephemeral: boolean,
    readonly manualCommit: boolean,
  ) {}

  /** Serializes restarts of this group. */
  enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op, op);
    this.chain = next.catch(() => {});
    return next;
  }

  async restart(): Promise<void> {
    await this.stop();
    if (this.topics.size === 0) {
      if (this.ephemeral) await this.bus.deleteGroup(this.groupId);
      return;
    }
    const rewind = await this.bus.rewindOffsets([...this.topics].filter(([, s]) => s.fromBeginning).map(([t]) => t));
    // Read before the consumer starts: with autoCommit a seek commits the sought offset at once.
    const committedBefore = await this.bus.committedOffsets(this.groupId, [...this.topics.keys()]);
    const logEnds = await this.bus.logEndOffsets([...this.topics].filter(([, s]) => !s.fromBeginning).map(([t]) => t));
    const consumer = this.bus.kafka.consumer({
      groupId: this.groupId,
      partitionAssigners: [CoPartitionAssigner],
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: 1_048_576,
      maxBytes: 8_388_608,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    let joinedOnce = false;
    /** Offsets read above are fresh only for the first join; later rebalances use the broker's commits. */
    let firstJoin = true;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Kafka consumer group ${this.groupId} did not join within 60 s`)), 60_000);
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const assignment = e.payload.memberAssignment as Record<string, number[]>;
        const fresh = firstJoin;
        firstJoin = false;
        const now = new Set(Object.entries(assignment).flatMap(([name, parts]) => parts.map((p) => `${name}/${p}`)));
        for (const [name, parts] of Object.entries(this.owned)) {
          for (const p of parts) {
            const k = `${name}/${p}`;
            if (now.has(k)) continue;
            // Lost to another member: forget its position; a mark taken before cannot commit it any more.
            this.delivered.delete(k);
            this.epochs.delete(k);
            this.committed.delete(k);
            this.replayUntil.delete(k);
          }
        }
        for (const [name, parts] of Object.entries(assignment)) {
          const topic = this.bus.logicalTopic(name);
          const fromBeginning = topic !== undefined && this.topics.get(topic)?.fromBeginning === true;
          const before = new Set(this.owned[name] ?? []);
          for (const p of parts) {
            const k = `${name}/${p}`;
            if (before.has(p)) {
              // Kept across a rebalance or a restart of this consumer: a manual-commit group resumes
              // after the last record delivered here, not at its (older) last commit.
              const d = this.delivered.get(k);
              if (this.manualCommit && d && d.offset >= 0) consumer.seek({ topic: name, partition: p, offset: String(d.offset) });
              continue;
            }
            this.epochs.set(k, ++this.epochSeq);
            const c = committedBefore.get(k) ?? -1;
            if (c >= 0) this.committed.set(k, c);
            // State rebuild: every partition of a fromBeginning topic this member did not own before
            // (all of them on the first join) is rewound before its first fetch.
            if (fromBeginning) {
              consumer.seek({ topic: name, partition: p, offset: rewind.get(k) ?? '-2' });
              if (c > 0) this.replayUntil.set(k, c);
            } else if (fresh && c < 0) {
              // No committed offset: start at the log end as read before joining, not at "latest" as
              // kafkajs resolves it lazily — on a loaded broker or a fresh topic that can happen after
              // subscribe() resolved, skipping records published in between. (With autoCommit the
              // seek commits the position; a manual-commit group commits it at its first checkpoint
              // even if no record arrives, so a crash before the first record skips nothing either.)
              const end = logEnds.get(k);
              if (end !== undefined) {
                consumer.seek({ topic: name, partition: p, offset: String(end) });
                if (this.manualCommit) this.delivered.set(k, { topic: name, partition: p, offset: end, epoch: this.epochSeq });
              }
            }
          }
        }
        this.owned = assignment;
        this.assigned = assignment;
        joinedOnce = true;
      });
      // The first FETCH after joining means start offsets are resolved: records published after
      // subscribe() resolves are seen (kafkajs resolves "latest" lazily at the first fetch).
      consumer.on(consumer.events.FETCH, () => {
        if (!joinedOnce) return;
        clearTimeout(timer);
        resolve();
      });
      consumer.on(consumer.events.CRASH, (e) => {
        this.bus.log.error({ group: this.groupId, err: String(e.payload.error), restart: e.payload.restart }, 'consumer crashed');
        if (!e.payload.restart) {
          clearTimeout(timer);
          reject(e.payload.error);
        }
      });
    });
    await consumer.connect();
    for (const [topic, sub] of this.topics) {
      await consumer.subscribe({ topics: [this.bus.topicName(topic)], fromBeginning: sub.fromBeginning });
    }
    await consumer.run({
      autoCommit: !this.manualCommit,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    // A group paused before this (re)start stays paused (kafkajs keeps topic-level pauses across rebalances).
    if (this.paused) consumer.pause(this.physicalTopics());
    await ready;
  }

  private physicalTopics(): { topic: string }[] {
    return [...this.topics.keys()].map((t) => ({ topic: this.bus.topicName(t) }));
  }

  /**
   * Stops (or restarts) delivery and fetching for the whole group. Records of a batch already
   * fetched but not yet delivered are not resolved, so kafkajs fetches them again after resume.
   */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    const c = this.consumer;
    if (!c) return;
    try {
      if (paused) c.pause(this.physicalTopics());
      else c.resume(this.physicalTopics());
    } catch (err) {
      // Only before consumer.run(): restart() applies the flag after run.
      this.bus.log.warn({ group: this.groupId, err: String(err) }, 'consumer pause/resume failed');
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const topic = this.bus.logicalTopic(batch.topic);
    const sub = topic ? this.topics.get(topic) : undefined;
    const allowed = topic ? TOPIC_EVENT_TYPES[topic] : [];
    const k = `${batch.topic}/${batch.partition}`;
    let replayUntil = this.replayUntil.get(k) ?? -1;
    let pos: PartitionPosition | undefined;
    if (this.manualCommit) {
      pos = this.delivered.get(k);
      if (!pos) {
        pos = { topic: batch.topic, partition: batch.partition, offset: -1, epoch: this.epochs.get(k) ?? 0 };
        this.delivered.set(k, pos);
      }
    }
    let lastBeat = Date.now();
    let n = 0;
    for (const message of batch.messages) {
      // Paused by a handler (possibly on the previous record): leave the rest unresolved for after resume.
      if (!isRunning() || isStale() || this.paused) break;
      const offset = Number(message.offset);
      let info = LIVE;
      if (replayUntil >= 0) {
        if (offset < replayUntil) info = REPLAY;
        else {
          this.replayUntil.delete(k);
          replayUntil = -1;
        }
      }
      if (topic && sub) {
        let event: AnyEvent | null = null;
        try {
          if (!message.value) throw new Error('record has no value');
          event = parseEvent(message.value.toString('utf8'), allowed);
        } catch (err) {
          badRecordsTotal.inc({ topic });
          const suppressed = this.bus.badLog.take(topic);
          if (suppressed >= 0) {
            this.bus.log.warn(
              { topic, partition: batch.partition, offset: message.offset, err: (err as Error).message, suppressedSinceLast: suppressed },
              'skipping bad bus record',
            );
          }
        }
        if (event) {
          consumedTotal.inc({ topic });
          const key = message.key ? message.key.toString('utf8') : '';
          const handlers = sub.handlers;
          for (let i = 0; i < handlers.length; i++) {
            try {
              handlers[i](event, key, info);
            } catch (err) {
              handlerErrorsTotal.inc({ topic });
              if (this.bus.badLog.take(`handler:${topic}`) >= 0) this.bus.log.error({ topic, err: String(err) }, 'bus handler threw');
            }
          }
        }
      }
      resolveOffset(message.offset);
      if (pos) pos.offset = offset + 1;
      if (++n % 256 === 0 && Date.now() - lastBeat > 1_000) {
        await heartbeat();
        lastBeat = Date.now();
      }
    }
    await heartbeat();
  }

  /** Positions delivered so far (manual commit). */
  mark(): PartitionPosition[] {
    return [...this.delivered.values()].filter((p) => p.offset >= 0).map((p) => ({ ...p }));
  }

  /**
   * Commits a mark's positions for the partitions this member still owns in the same ownership
   * epoch (not lost, or lost and regained, since the mark), never moving an offset backwards.
   * Serialized with restarts, so it always talks to a running consumer.
   */
  commit(positions: readonly PartitionPosition[]): Promise<void> {
    return this.enqueue(async () => {
      const c = this.consumer;
      if (!c) return;
      const todo = positions.filter((p) => {
        const k = `${p.topic}/${p.partition}`;
        return this.epochs.get(k) === p.epoch && p.offset > (this.committed.get(k) ?? -1);
      });
      if (todo.length === 0) return;
      await c.commitOffsets(todo.map((p) => ({ topic: p.topic, partition: p.partition, offset: String(p.offset) })));
      for (const p of todo) {
        const k = `${p.topic}/${p.partition}`;
        if (this.epochs.get(k) === p.epoch && p.offset > (this.committed.get(k) ?? -1)) this.committed.set(k, p.offset);
      }
    });
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    this.assigned = {};
    if (c) {
      try {
        await c.disconnect();
      } catch (err) {
        this.bus.log.warn({ group: this.groupId, err: String(err) }, 'consumer disconnect failed');
      }
    }
  }
}

/**
 * Bus over Apache Kafka (kafkajs). Same contract as MemoryBus for stage code:
 * - publish() is synchronous: the event is serialized with the compiled serializers and queued;
 *   a flusher sends queued records in batches (idempotent producer, acks=all, one request in
 *   flight, so per-partition order is kept) every `lingerMs` or as soon as `batchMaxMessages` wait;
 * - key = venue:symbol, so one partition (and one consumer of a group) owns a symbol;
 * - subscribe(topic, handler, { group, fromBeginning }): consumers with the same group share the
 *   partitions; without a group the subscription gets a private group and sees every record
 *   published after subscribe() resolved (the in-memory bus semantics);
 * - records that do not parse or validate as the topic's event types are counted
 *   (depthwatch_bus_bad_records_total{topic}), logged at most once per 10 s per topic and skipped.
 * Delivery is at-least-once: a consumer restart replays records after the last committed offset.
 */
export class KafkaBus implements Bus {
  readonly log: Logger;
  readonly badLog = new RateLimitedLog(10_000);
  readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly opts: Required<Omit<KafkaBusOptions, 'rewindMs' | 'retentionMs'>> & Pick<KafkaBusOptions, 'rewindMs' | 'retentionMs'>;
  private readonly groups = new Map<string, GroupConsumer>();
  private readonly topicByName = new Map<string, Topic>();

  private queue: Pending[] = [];
  private head = 0;
  private enqueued = 0;
  private settled = 0;
  private waiters: { target: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private sending = false;
  private closed = false;
  private failures = 0;
  private lagTimer: NodeJS.Timeout | null = null;

  private constructor(opts: KafkaBusOptions) {
    this.opts = {
      groupPrefix: '',
      partitions: 4,
      compression: 'gzip',
      topicPrefix: '',
      batchMaxMessages: 2_000,
      batchMaxBytes: 524_288,
      lingerMs: 5,
      maxPending: 200_000,
      lagPollMs: 5_000,
      ...opts,
    };
    this.log = logger('bus.kafka', { clientId: opts.clientId });
    for (const t of TOPICS) this.topicByName.set(this.topicName(t), t);
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: opts.brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(this.log),
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = this.kafka.admin();
  }

  /** Connects producer and admin and creates the topics (idempotent). */
  static async connect(opts: KafkaBusOptions): Promise<KafkaBus> {
    if (!opts.brokers.length) throw new Error('KafkaBus: no brokers given');
    const bus = new KafkaBus(opts);
    try {
      await bus.admin.connect();
      await bus.ensureTopics();
      await bus.producer.connect();
    } catch (err) {
      await bus.admin.disconnect().catch(() => {});
      await bus.producer.disconnect().catch(() => {});
      throw new Error(`KafkaBus: cannot connect to Kafka at ${opts.brokers.join(',')}: ${(err as Error).message}`);
    }
    if (bus.opts.lagPollMs > 0) {
      bus.lagTimer = setInterval(() => void bus.pollLag(), bus.opts.lagPollMs);
      bus.lagTimer.unref();
    }
    return bus;
  }

  topicName(topic: Topic): string {
    return `${this.opts.topicPrefix}${topic}`;
  }

  logicalTopic(name: string): Topic | undefined {
    return this.topicByName.get(name);
  }

  private async ensureTopics(): Promise<void> {
    const retention = { ...DEFAULT_RETENTION_MS, ...this.opts.retentionMs };
    const existing = new Set(await this.admin.listTopics());
    const missing = TOPICS.filter((t) => !existing.has(this.topicName(t)));
    if (missing.length > 0) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: this.topicName(t),
          numPartitions: this.opts.partitions,
          configEntries: retention[t] ? [{ name: 'retention.ms', value: String(retention[t]) }] : [],
        })),
      });
      this.log.info({ topics: missing.map((t) => this.topicName(t)), partitions: this.opts.partitions }, 'created topics');
    }
    const meta = await this.admin.fetchTopicMetadata({ topics: TOPICS.map((t) => this.topicName(t)) });
    for (const t of meta.topics) {
      if (t.partitions.length !== this.opts.partitions) {
        this.log.warn({ topic: t.name, partitions: t.partitions.length, wanted: this.opts.partitions }, 'existing topic has a different partition count; leaving it as is');
      }
    }
  }

  // ---------------------------------------------------------------- producing

  publish<T extends Topic>(topic: T, key: string, event: TopicEvents[T]): void {
    if (this.closed || this.queue.length - this.head >= this.opts.maxPending) {
      droppedTotal.inc({ topic });
      const suppressed = this.badLog.take(`drop:${topic}`);
      if (suppressed >= 0) {
        const why = this.closed ? 'publish after close: dropping records' : 'producer queue full: dropping new records';
        this.log.error({ topic, maxPending: this.opts.maxPending, suppressedSinceLast: suppressed }, why);
      }
      return;
    }
    this.queue.push({ topic, key, value: serializeEvent(event as AnyEvent), t: performance.now() });
    this.enqueued++;
    pendingGauge.inc();
    const pending = this.queue.length - this.head;
    if (pending >= this.opts.batchMaxMessages) this.kick(true);
    else this.kick(false);
  }

  private kick(now: boolean): void {
    if (this.sending) return; // the send loop picks new records up when the current batch is acked
    if (now) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.sending = true;
      queueMicrotask(() => void this.sendLoop());
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.sending) return;
        this.sending = true;
        void this.sendLoop();
      }, this.opts.lingerMs);
    }
  }

  private async sendLoop(): Promise<void> {
    try {
      while (this.queue.length - this.head > 0) {
        const limit = Math.min(this.queue.length, this.head + this.opts.batchMaxMessages);
        let end = this.head;
        let bytes = 0;
        while (end < limit && (end === this.head || bytes + this.queue[end].value.length + this.queue[end].key.length <= this.opts.batchMaxBytes)) {
          bytes += this.queue[end].value.length + this.queue[end].key.length;
          end++;
        }
        const batch = this.queue.slice(this.head, end);
        const byTopic = new Map<Topic, { key: string; value: string }[]>();
        for (const m of batch) {
          let list = byTopic.get(m.topic);
          if (!list) byTopic.set(m.topic, (list = []));
          list.push({ key: m.key, value: m.value });
        }
        try {
          await this.producer.sendBatch({
            acks: -1,
            compression: this.opts.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
            topicMessages: [...byTopic].map(([t, messages]) => ({ topic: this.topicName(t), messages })),
          });
        } catch (err) {
          produceFailuresTotal.inc();
          this.failures++;
          if ((err as { retriable?: boolean }).retriable === false && this.failures >= 3) {
            // e.g. MESSAGE_TOO_LARGE: resending the same records cannot succeed; drop them loudly.
            this.log.error({ err: (err as Error).message, records: batch.length }, 'produce failed permanently: dropping the batch');
            for (const m of batch) droppedTotal.inc({ topic: m.topic });
            this.failures = 0;
            this.head = end;
            pendingGauge.dec(batch.length);
            this.settle(batch.length);
            continue;
          }
          const delay = Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6));
          if (this.badLog.take('send') >= 0) this.log.error({ err: (err as Error).message, pending: this.queue.length - this.head, retryInMs: delay }, 'produce failed; retrying');
          if (this.closed && this.abandon) break;
          await new Promise((r) => setTimeout(r, delay));
          continue;
        }
        this.failures = 0;
        produceBatchesTotal.inc();
        produceLatency.observe((performance.now() - batch[0].t) / 1000);
        for (const [t, list] of byTopic) producedTotal.inc({ topic: t }, list.length);
        this.head = end;
        if (this.head > 65_536 && this.head * 2 > this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        pendingGauge.dec(batch.length);
        this.settle(batch.length);
      }
    } finally {
      this.sending = false;
    }
    if (this.queue.length - this.head > 0 && !this.abandon) this.kick(false);
  }

  private settle(n: number): void {
    this.settled += n;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.target <= this.settled) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  private abandon = false;

  /** Resolves when every record published before this call is acknowledged by Kafka (acks=all). */
  flush(): Promise<void> {
    const target = this.enqueued;
    if (target <= this.settled) return Promise.resolve();
    this.kick(true);
    return new Promise((resolve, reject) => this.waiters.push({ target, resolve, reject }));
  }

  /** Records queued and not yet acknowledged. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  // ---------------------------------------------------------------- consuming

  async subscribe<T extends Topic>(topic: T, handler: BusHandler<T>, options: SubscribeOptions = {}): Promise<() => Promise<void>> {
    if (this.closed) throw new Error('KafkaBus: subscribe after close');
    const ephemeral = options.group === undefined;
    const manual = options.manualCommit === true;
    if (manual && ephemeral) throw new Error(`KafkaBus: subscribe ${topic}: manualCommit needs a group`);
    const groupId = `${this.opts.groupPrefix}${options.group ?? `${this.opts.clientId}.private.${randomUUID()}`}`;
    let group = this.groups.get(groupId);
    if (!group) {
      group = new GroupConsumer(this, groupId, ephemeral, manual);
      this.groups.set(groupId, group);
    } else if (group.manualCommit !== manual) {
      throw new Error(`KafkaBus: subscribe ${topic}: group ${groupId} already has subscriptions with manualCommit ${group.manualCommit}`);
    }
    const g = group;
    const h = handler as AnyHandler;
    await g.enqueue(async () => {
      const existing = g.topics.get(topic);
      if (existing) {
        // Same group and topic again in this process: the running member delivers to both handlers.
        existing.handlers = [...existing.handlers, h];
        return;
      }
      g.topics.set(topic, { handlers: [h], fromBeginning: options.fromBeginning ?? false });
      try {
        await g.restart();
      } catch (err) {
        g.topics.delete(topic);
        await g.stop();
        throw new Error(`KafkaBus: subscribe ${topic} (group ${groupId}) failed: ${(err as Error).message}`);
      }
    });
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      await g.enqueue(async () => {
        const sub = g.topics.get(topic);
        if (!sub) return;
        sub.handlers = sub.handlers.filter((x) => x !== h);
        if (sub.handlers.length > 0) return;
        g.topics.delete(topic);
        await g.restart();
        if (g.topics.size === 0) this.groups.delete(groupId);
      });
    };
  }

  /**
   * Marks the records delivered so far to the handlers of a `manualCommit` group in this process
   * (delivery is synchronous: a handler that returned has seen its record). Commit it with
   * `commit()` once their effects are durable.
   */
  deliveryMark(group: string): DeliveryMark {
    const groupId = `${this.opts.groupPrefix}${group}`;
    const mark: KafkaDeliveryMark = { group, groupId, positions: this.groups.get(groupId)?.mark() ?? [] };
    return mark;
  }

  /**
   * Commits a mark of a `manualCommit` group: for each partition this member still owns (and has
   * not lost and regained since the mark), the offset after the last record delivered when the
   * mark was taken — unless an equal or later offset is already committed. Partitions that moved
   * to another member are skipped (their new owner resumes from the last commit: at-least-once).
   */
  async commit(mark: DeliveryMark): Promise<void> {
    const m = mark as Partial<KafkaDeliveryMark>;
    if (!m.groupId || !m.positions) throw new Error('KafkaBus: commit() of a mark this bus did not make');
    const g = this.groups.get(m.groupId);
    if (!g || !g.manualCommit || m.positions.length === 0) return;
    await g.commit(m.positions);
  }

  /**
   * Back-pressure: the group's handlers in this process get no further record (the rest of a batch
   * in hand included) and nothing more is fetched for it until `resume(group)`. Membership is kept
   * (kafkajs heartbeats while paused), so the partitions stay here and nothing is redelivered
   * elsewhere. Other groups of this process are not affected.
   */
  pause(group: string): void {
    this.groupByName(group)?.setPaused(true);
  }

  resume(group: string): void {
    this.groupByName(group)?.setPaused(false);
  }

  private groupByName(group: string): GroupConsumer | undefined {
    return this.groups.get(`${this.opts.groupPrefix}${group}`);
  }

  /** The group's committed offsets by `${topic}/${partition}` (-1: none). */
  async committedOffsets(groupId: string, topics: readonly Topic[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (topics.length === 0) return out;
    const res = await this.adminRetry(() => this.admin.fetchOffsets({ groupId, topics: topics.map((t) => this.topicName(t)) }));
    for (const t of res) for (const p of t.partitions) out.set(`${t.topic}/${p.partition}`, Number(p.offset));
    return out;
  }

  /**
   * Offset look-ups right after topic creation can meet "not the leader for that topic-partition"
   * until leadership has propagated; retried for up to ~10 s.
   */
  private async adminRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= 12 || this.closed) throw err;
        await new Promise((r) => setTimeout(r, Math.min(1_000, 50 * 2 ** attempt)));
      }
    }
  }

  /** Log-end offsets by `${topic}/${partition}`. */
  async logEndOffsets(topics: readonly Topic[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const topic of topics) {
      const name = this.topicName(topic);
      for (const p of await this.adminRetry(() => this.admin.fetchTopicOffsets(name))) out.set(`${name}/${p.partition}`, Number(p.high));
    }
    return out;
  }

  /**
   * Start offsets for a state rebuild, by `${topic}/${partition}`: the first record produced at or
   * after now − rewindMs when a rewind window is configured for the topic; otherwise none (the
   * consumer seeks to the earliest retained record).
   */
  async rewindOffsets(topics: readonly Topic[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const topic of topics) {
      const rewind = this.opts.rewindMs?.[topic];
      if (rewind === undefined) continue;
      const name = this.topicName(topic);
      const byTs = await this.adminRetry(() => this.admin.fetchTopicOffsetsByTimestamp(name, Date.now() - rewind));
      for (const p of byTs) out.set(`${name}/${p.partition}`, Number(p.offset) >= 0 ? p.offset : '-1');
    }
    return out;
  }

  async deleteGroup(groupId: string): Promise<void> {
    try {
      await this.admin.deleteGroups([groupId]);
    } catch {
      // best effort: an empty group without offsets expires on its own
    }
  }

  /** Polls committed offsets vs log end per group and topic into depthwatch_bus_consumer_lag. */
  async pollLag(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const g of this.groups.values()) {
      for (const topic of g.topics.keys()) {
        const name = this.topicName(topic);
        try {
          const [ends, committed] = await Promise.all([this.admin.fetchTopicOffsets(name), this.admin.fetchOffsets({ groupId: g.groupId, topics: [name] })]);
          const byPart = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
          let lag = 0;
          for (const e of ends) {
            const c = byPart.get(e.partition) ?? -1;
            lag += Number(e.high) - (c >= 0 ? c : Number(e.low));
          }
          lagGauge.set({ topic, group: g.groupId }, lag);
          out[`${g.groupId}/${topic}`] = lag;
        } catch (err) {
          if (this.badLog.take('lag') >= 0) this.log.warn({ err: (err as Error).message }, 'consumer lag poll failed');
        }
      }
    }
    return out;
  }

  async close(timeoutMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.lagTimer) clearInterval(this.lagTimer);
    const flushed = await Promise.race([this.flush().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs).unref())]);
    if (!flushed) {
      this.abandon = true;
      this.log.error({ unsent: this.pending }, 'closing with unacknowledged records');
      for (const w of this.waiters) w.reject(new Error(`KafkaBus closed with ${this.pending} unacknowledged records`));
      this.waiters = [];
      pendingGauge.dec(this.pending);
    }
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(
      [...this.groups.values()].map((g) =>
        g.enqueue(async () => {
          g.topics.clear();
          await g.stop();
          if (g.ephemeral) await this.deleteGroup(g.groupId);
        }),
      ),
    );
    this.groups.clear();
    await this.producer.disconnect().catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }
}
