import { randomUUID } from 'node:crypto';
import type { Bus, Stage, VenueId } from '@depthwatch/schemas';
import { MemoryBus } from '@depthwatch/bus';
import { logger } from '@depthwatch/ops';
import { startEngine, type EngineStage } from '@depthwatch/engine';
import { startIngest, type IngestStage } from '../collector.ts';
import { startSimulatedVenues, type SimulatedVenues } from '../sim/index.ts';
import type { ScenarioName } from '../sim/scenario.ts';
import { VENUES } from '../venues/index.ts';
import { RawRecorder, type RecorderOptions } from '../record/recorder.ts';
import { replayFiles, type ReplayResult, type ReplaySpeed } from './replay.ts';

/**
 * Entry points for `depthwatch record` and `depthwatch replay FILE... [--speed 1|10|max] [--from --to]`
 * (the CLI in cli/src wires flags to these options). Plain typed options, no argv parsing here.
 */

const log = logger('replay-cli');

/** Epoch ms, or anything Date.parse accepts (ISO 8601). */
export function parseTime(value: string | number): number {
  if (typeof value === 'number') return value;
  const n = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(n)) throw new Error(`not a time: ${value} (epoch ms or ISO 8601)`);
  return n;
}

export function parseSpeed(value: string | number): ReplaySpeed {
  if (value === 'max') return 'max';
  const n = Number(value);
  if (!(n > 0)) throw new Error(`--speed must be a positive number or max, got ${value}`);
  return n;
}

// ---- record

export interface RecordOptions {
  recordDir: string;
  venues?: readonly VenueId[];
  symbols?: readonly string[];
  /** Record the simulated venues (default) or the real exchanges. */
  live?: boolean;
  seed?: number;
  scenario?: ScenarioName;
  timeScale?: number;
  /** Per-venue URL overrides (live). */
  venueUrls?: Partial<Record<VenueId, { restUrl?: string; wsUrl?: string }>>;
  /** Bus for the normalized events (default: a new MemoryBus); recording runs alongside normal operation. */
  bus?: Bus;
  /** Recorder tuning: rotation, fsync, queue bounds. */
  recorder?: Omit<RecorderOptions, 'dir'>;
}

export interface RecordHandle {
  recorder: RawRecorder;
  ingest: IngestStage;
  sim: SimulatedVenues | null;
  bus: Bus;
  /** Stops the collectors, then writes and closes the last file. */
  stop(): Promise<void>;
}

export async function runRecord(opts: RecordOptions): Promise<RecordHandle> {
  const live = opts.live ?? false;
  const venues = opts.venues ?? (live ? (Object.keys(VENUES) as VenueId[]) : (['binance-futures', 'binance'] as VenueId[]));
  const selected = venues.map((venue) => {
    const defaults = VENUES[venue]?.defaultSymbols ?? [];
    const symbols = opts.symbols ? opts.symbols.filter((s) => live || defaults.includes(s)) : [...defaults];
    return { venue, symbols };
  });
  const withSymbols = selected.filter((s) => s.symbols.length > 0);
  if (withSymbols.length === 0) throw new Error(`record: none of the venues ${venues.join(', ')} lists the symbols ${opts.symbols?.join(', ')}`);
  const recorder = new RawRecorder({ dir: opts.recordDir, ...opts.recorder });
  await recorder.start();
  const bus = opts.bus ?? new MemoryBus();
  let sim: SimulatedVenues | null = null;
  let ingest: IngestStage | null = null;
  try {
    if (!live) {
      sim = await startSimulatedVenues({
        venues: withSymbols.map((s) => s.venue),
        symbols: Object.fromEntries(withSymbols.map((s) => [s.venue, s.symbols])),
        seed: opts.seed,
        scenario: opts.scenario,
        timeScale: opts.timeScale,
      });
    }
    const simRef = sim;
    ingest = await startIngest({
      bus,
      recorder: recorder.tap,
      venues: withSymbols.map(({ venue, symbols }) => ({ venue, symbols, ...(simRef ? simRef.endpoints[venue] : {}), ...opts.venueUrls?.[venue] })),
    });
  } catch (err) {
    await sim?.close();
    await recorder.close();
    throw err;
  }
  const ing = ingest;
  log.info({ dir: opts.recordDir, venues: withSymbols.map((s) => s.venue) }, 'recording');
  return {
    recorder,
    ingest: ing,
    sim,
    bus,
    async stop() {
      await ing.close();
      await sim?.close();
      await recorder.close();
      log.info({ ...recorder.stats, paths: recorder.files }, 'recording stopped');
    },
  };
}

// ---- replay

export interface ReplayCliOptions {
  files: readonly string[];
  speed?: ReplaySpeed;
  /** Epoch ms or ISO 8601. */
  from?: number | string;
  to?: number | string;
  venues?: readonly VenueId[];
  symbols?: readonly string[];
  /** Rows written under this run id (default: `replay-<uuid>`); never '' (= live). */
  runId?: string;
  /** ClickHouse sink for the replay's output (rows tagged with runId). */
  clickhouse?: { url: string; database?: string };
  /** Bus (default: a new MemoryBus). */
  bus?: Bus;
  /** Further stages on the replay's bus, e.g. the gateway (the CLI starts it). Started before the replay. */
  stages?: (bus: Bus) => Promise<Stage[]>;
  onWarning?: (message: string) => void;
}

export interface ReplayHandle {
  runId: string;
  result: ReplayResult;
  bus: Bus;
  engine: EngineStage;
  stages: Stage[];
  /** Closes the sink (after flushing), the engine and the extra stages. */
  close(): Promise<void>;
}

/**
 * Files → ingest (same adapters/book sync) → engine (timers off: driven by event times) → optional
 * ClickHouse sink under `runId` → optional extra stages. Resolves when the files are replayed and
 * the engine's pending depth is flushed (the sink is flushed too); stages stay up until close().
 */
export async function runReplay(opts: ReplayCliOptions): Promise<ReplayHandle> {
  const runId = opts.runId ?? `replay-${randomUUID()}`;
  if (runId === '') throw new Error("replay: runId '' is reserved for live rows");
  const bus = opts.bus ?? new MemoryBus();
  const stages: Stage[] = [];
  const closeAll = async () => {
    for (const s of [...stages].reverse()) await s.close().catch((err: unknown) => log.warn({ err, stage: s.name }, 'stage close failed'));
  };
  let engine: EngineStage;
  let sink: (Stage & { flush(): Promise<void> }) | null = null;
  try {
    engine = await startEngine({ bus, timers: false });
    stages.push(engine);
    if (opts.clickhouse) {
      const { startClickHouseSink } = await import('@depthwatch/engine/sink/clickhouse/sink');
      sink = await startClickHouseSink({ bus, url: opts.clickhouse.url, database: opts.clickhouse.database, runId });
      stages.push(sink);
    }
    if (opts.stages) stages.push(...(await opts.stages(bus)));
  } catch (err) {
    await closeAll();
    throw err;
  }
  const result = await replayFiles(opts.files, {
    bus,
    speed: opts.speed ?? 'max',
    from: opts.from !== undefined ? parseTime(opts.from) : undefined,
    to: opts.to !== undefined ? parseTime(opts.to) : undefined,
    venues: opts.venues,
    symbols: opts.symbols,
    runId,
    onWarning: opts.onWarning,
  });
  engine.flushDepth();
  await bus.flush();
  if (sink) await sink.flush();
  log.info({ runId, records: result.records, frames: result.frames, warnings: result.warnings.length, truncated: result.truncated }, 'replay finished');
  return { runId, result, bus, engine, stages, close: closeAll };
}
