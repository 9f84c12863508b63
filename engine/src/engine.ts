import { performance } from 'node:perf_hooks';
import type { Alert, Bus, DeliveryInfo, DepthMetrics, Stage, StageHealth, Topic } from '@depthwatch/schemas';
import { counter, gauge, histogram, logger } from '@depthwatch/ops';
import type { L2Book } from './book/l2-book.ts';
import { resolveConfig, type EngineConfig } from './config.ts';
import { EngineCore } from './core.ts';
import type { AssetStats, SymbolStats } from './types.ts';

export interface EngineOptions {
  bus: Bus;
  config?: Partial<EngineConfig>;
  /** Live mode (default): a wall-clock trailing flush publishes a quiet symbol's pending depth. Replays and tests pass false. */
  timers?: boolean;
  /** Consumer group on a shared bus (default 'engine'). */
  group?: string;
}

export interface EngineStage extends Stage {
  readonly books: ReadonlyMap<string, L2Book>;
  readonly config: Readonly<EngineConfig>;
  /** In-process views beyond the schema: liquidation flow windows, derivatives, baselines. */
  symbolStats(venue: string, symbol: string): SymbolStats | undefined;
  /** Cross-venue aggregate of one asset (USD-like quotes). */
  assetStats(asset: string): AssetStats | undefined;
  /** Publishes every pending (conflated) depth update now, e.g. at the end of a replay. */
  flushDepth(): void;
  readonly core: EngineCore;
}

const MD_TOPICS = ['md.book', 'md.trade', 'md.liquidation', 'md.ticker', 'md.status'] as const;

const eventsTotal = counter<'topic'>({ name: 'depthwatch_engine_events_total', help: 'Market events processed by the engine, by topic', labelNames: ['topic'] });
const processingSeconds = histogram<'topic'>({
  name: 'depthwatch_engine_processing_seconds',
  help: 'Engine processing time per input event (including any evaluation and publishing it triggers)',
  labelNames: ['topic'],
  buckets: [1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 5e-3, 0.025, 0.1],
});
const booksGauge = gauge({ name: 'depthwatch_engine_books', help: 'Order books held by the engine' });
const depthPublished = counter({ name: 'depthwatch_engine_depth_published_total', help: 'DepthMetrics published on out.depth' });
const alertsTotal = counter<'kind' | 'severity' | 'state'>({
  name: 'depthwatch_engine_alerts_total',
  help: 'Alerts published on out.alert, by kind, severity and state',
  labelNames: ['kind', 'severity', 'state'],
});
const alertsAdopted = counter<'outcome'>({
  name: 'depthwatch_engine_alerts_read_back_total',
  help: 'Alerts of other (e.g. previous) engine instances read back from out.alert, by outcome: adopted (taken over), closed (resolved by its owner), superseded (resolved by us), ignored',
  labelNames: ['outcome'],
});
const droppedTotal = counter<'reason'>({
  name: 'depthwatch_engine_dropped_events_total',
  help: 'Input events dropped by the engine (invalid, delta before snapshot, liquidation too old)',
  labelNames: ['reason'],
});

export async function startEngine(opts: EngineOptions): Promise<EngineStage> {
  const cfg = resolveConfig(opts.config);
  const log = logger('engine');
  const bus = opts.bus;
  /**
   * Rebuild after a restart: md.book is rewound (fromBeginning) and the records this group had
   * consumed before arrive flagged as replays. While one is being applied, output is held back —
   * the previous instance published it already. The latest depth computed from replays is kept
   * per key and published once that book's replay is over (wall-quiet for depthIntervalMs), unless
   * a live book event for the key arrived first (then the core publishes the newer state).
   */
  let replaying = false;
  const owedDepth = new Map<string, DepthMetrics>();
  const lastReplayWall = new Map<string, number>();
  const publishDepth = (key: string, ev: DepthMetrics): void => {
    owedDepth.delete(key);
    depthPublished.inc();
    bus.publish('out.depth', key, ev);
  };
  const flushOwed = (wallNow: number | null): void => {
    for (const [key, ev] of owedDepth) {
      if (wallNow === null || wallNow - (lastReplayWall.get(key) ?? 0) >= cfg.depthIntervalMs) publishDepth(key, ev);
    }
  };
  const core = new EngineCore(cfg, {
    depth: (key, ev) => (replaying ? void owedDepth.set(key, ev) : publishDepth(key, ev)),
    alert: (key, ev) => {
      if (!replaying) bus.publish('out.alert', key, ev);
    },
    // Cross-venue aggregate (event-time conflated in the core); like alerts, not re-published while rebuilding.
    assetDepth: (key, ev) => {
      if (!replaying) bus.publish('out.depth', key, ev);
    },
  });
  core.onDrop = (reason) => droppedTotal.labels(reason).inc();
  core.onBooks = (n) => booksGauge.set(n);
  core.onAlert = (a: Alert) => {
    if (replaying) return;
    alertsTotal.labels(a.kind, a.severity, a.state).inc();
    log.info({ id: a.id, state: a.state, severity: a.severity, stage: a.stage }, a.explanation);
  };

  const timers = opts.timers ?? true;
  const counters = Object.fromEntries(MD_TOPICS.map((t) => [t, eventsTotal.labels(t)]));
  const latency = Object.fromEntries(MD_TOPICS.map((t) => [t, processingSeconds.labels(t)]));
  let handlerErrors = 0;

  function wrap<T extends Topic>(topic: T, fn: (ev: never) => void): (ev: unknown, key: string, info?: DeliveryInfo) => void {
    const c = counters[topic];
    const h = latency[topic];
    return (ev: unknown, key: string, info?: DeliveryInfo) => {
      const t0 = performance.now();
      replaying = info?.replay === true;
      if (replaying) lastReplayWall.set(key, t0);
      else if (topic === 'md.book') owedDepth.delete(key); // live input supersedes the rebuilt state: the core publishes it
      try {
        if (typeof ev !== 'object' || ev === null) {
          core.onDrop('invalid');
          core.counters.dropped.invalid++;
          return;
        }
        fn(ev as never);
      } catch (err) {
        handlerErrors++;
        core.counters.dropped.invalid++;
        droppedTotal.labels('error').inc();
        log.error({ err, topic }, 'engine failed on an event');
      } finally {
        replaying = false;
        c.inc();
        core.counters.events[topic] = (core.counters.events[topic] ?? 0) + 1;
        h.observe((performance.now() - t0) / 1000);
      }
    };
  }

  const group = opts.group ?? 'engine';
  const unsubs: (() => Promise<void>)[] = [];
  // Alert continuity: read back out.alert from the oldest retained record so a restarted engine takes
  // over the alerts a previous instance left open (EngineCore.adoptAlert). Alerts are sparse, so the
  // whole retained topic is cheap to read; our own alerts coming back are recognised and skipped.
  unsubs.push(
    await bus.subscribe(
      'out.alert',
      (ev) => {
        try {
          const outcome = core.adoptAlert(ev);
          if (outcome !== 'own') alertsAdopted.labels(outcome).inc();
          if (outcome === 'adopted' || outcome === 'superseded') log.info({ id: ev.id, state: ev.state, outcome }, 'took over an alert left by a previous engine');
        } catch (err) {
          handlerErrors++;
          log.error({ err }, 'engine failed to read back an alert');
        }
      },
      { group, fromBeginning: true },
    ),
  );
  // fromBeginning: a (re)started engine rebuilds its books from the retained log (on Kafka from the
  // bus's rewind window, which covers at least one periodic snapshot per book); ignored in memory.
  unsubs.push(
    await bus.subscribe('md.book', wrap('md.book', (ev: Parameters<EngineCore['onBook']>[0]) => core.onBook(ev, timers ? performance.now() : 0)), {
      group,
      fromBeginning: true,
    }),
  );
  unsubs.push(await bus.subscribe('md.liquidation', wrap('md.liquidation', (ev: Parameters<EngineCore['onLiquidation']>[0]) => core.onLiquidation(ev)), { group }));
  unsubs.push(await bus.subscribe('md.ticker', wrap('md.ticker', (ev: Parameters<EngineCore['onTicker']>[0]) => core.onTicker(ev)), { group }));
  unsubs.push(await bus.subscribe('md.trade', wrap('md.trade', (ev: Parameters<EngineCore['onTrade']>[0]) => core.onTrade(ev)), { group }));
  unsubs.push(await bus.subscribe('md.status', wrap('md.status', (ev: Parameters<EngineCore['onStatus']>[0]) => core.onStatus(ev)), { group }));
  let ready = true;
  let closed = false;

  let timer: NodeJS.Timeout | null = null;
  if (timers) {
    timer = setInterval(() => {
      const now = performance.now();
      core.flushQuiet(now);
      if (owedDepth.size > 0) flushOwed(now);
    }, Math.max(10, cfg.depthIntervalMs));
    timer.unref();
  }
  log.info({ timers, depthIntervalMs: cfg.depthIntervalMs }, 'engine started');

  return {
    name: 'engine',
    books: core.books,
    config: cfg,
    core,
    symbolStats: (venue, symbol) => core.symbolStats(venue, symbol),
    assetStats: (asset) => core.assetStats(asset),
    flushDepth: () => {
      core.flushAll();
      flushOwed(null);
    },
    health(): StageHealth {
      const details: Record<string, string> = {};
      if (!ready) details.bus = closed ? 'closed' : 'not subscribed';
      if (handlerErrors > 0) details.errors = `${handlerErrors} events failed`;
      return { alive: !closed, ready: ready && !closed, details };
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      ready = false;
      if (timer) clearInterval(timer);
      for (const u of unsubs) await u();
      log.info('engine stopped');
    },
  };
}
