import { isCcxtVenueId, type Bus, type Stage, type StageHealth, type VenueId } from '@depthwatch/schemas';
import { MemoryBus, KafkaBus } from '@depthwatch/bus';
import { logger, startDefaultMetrics, startOpsServer } from '@depthwatch/ops';
import { CcxtVenueError, resolveCcxtVenue, startIngest, startSimulatedVenues, DEFAULT_SYMBOLS, VENUES } from '@depthwatch/ingest';
import { startEngine } from '@depthwatch/engine';
import { startClickHouseSink } from '@depthwatch/engine/sink/clickhouse/sink';
import { startGateway } from '@depthwatch/gateway';
import { ClickHouseHistoryStore } from '@depthwatch/gateway/http/clickhouse-history';
import { RawRecorder } from '@depthwatch/ingest/record/recorder';
import { ConfigError, type Config } from './config.ts';

const log = logger('pipeline');

/** Venues with a collector, in registry order. */
const SUPPORTED_VENUES = Object.keys(VENUES) as VenueId[];

export interface Roles {
  ingest: boolean;
  engine: boolean;
  gateway: boolean;
}

export const ROLES_BY_COMMAND: Record<string, Roles> = {
  start: { ingest: true, engine: true, gateway: true },
  ingest: { ingest: true, engine: false, gateway: false },
  engine: { ingest: false, engine: true, gateway: false },
  gateway: { ingest: false, engine: false, gateway: true },
};

export interface Pipeline {
  bus: Bus;
  stages: Stage[];
  /** Present when the simulated venues run in this process. */
  sim: Awaited<ReturnType<typeof startSimulatedVenues>> | null;
  gatewayUrl: string | null;
  opsUrl: string | null;
  health(): StageHealth[];
  close(): Promise<void>;
}

/** Picks venues and symbols: explicit lists win; symbols a venue does not list are not forced on it. */
export function selectVenues(config: Config): { venue: VenueId; symbols: string[] }[] {
  const venues = config.venues ?? [...SUPPORTED_VENUES];
  for (const v of venues) {
    if (isCcxtVenueId(v)) {
      if (!config.live) throw new ConfigError(`venue "${v}" is collected through ccxt and has no simulated venue: add --live`);
      if (!config.symbols) throw new ConfigError(`venue "${v}" has no default symbols: list them with --symbols`);
      continue;
    }
    if (!SUPPORTED_VENUES.includes(v)) throw new ConfigError(`venue "${v}" has no collector yet; supported: ${SUPPORTED_VENUES.join(', ')}, or ccxt:<exchange id>`);
  }
  const selected = venues.map((venue) => {
    if (isCcxtVenueId(venue)) return { venue, symbols: [...config.symbols!] };
    const defaults = DEFAULT_SYMBOLS[venue] ?? [];
    const symbols = config.symbols ? config.symbols.filter((s) => defaults.includes(s) || config.live) : [...defaults];
    return { venue, symbols };
  });
  const withSymbols = selected.filter((s) => s.symbols.length > 0);
  if (withSymbols.length === 0) throw new ConfigError(`none of the selected venues lists the symbols ${config.symbols?.join(', ')}`);
  return withSymbols;
}

export async function startPipeline(config: Config, roles: Roles): Promise<Pipeline> {
  startDefaultMetrics();
  const stages: Stage[] = [];
  let sim: Pipeline['sim'] = null;
  let opsServer: Awaited<ReturnType<typeof startOpsServer>> | null = null;
  let gatewayUrl: string | null = null;
  let recorder: RawRecorder | null = null;
  const bus: Bus = config.kafka
    ? await KafkaBus.connect({
        brokers: config.kafka,
        clientId: `depthwatch-${config.command}`,
        partitions: config.kafkaPartitions,
        topicPrefix: config.topicPrefix,
        // The engine and the gateway rebuild their books on start from the last 2 min of md.book (collectors
        // publish a snapshot at least every 60 s); the gateway its latest tickers from the last 2 min of md.ticker.
        ...(roles.engine || roles.gateway ? { rewindMs: { 'md.book': 120_000, 'md.ticker': 120_000 } } : {}),
      })
    : new MemoryBus();
  if (!config.kafka && !(roles.ingest && roles.engine && roles.gateway)) {
    throw new ConfigError(`"${config.command}" runs one stage alone and needs --kafka (or use "start" for one process)`);
  }
  const health = (): StageHealth[] => stages.map((s) => s.health());
  const close = async (): Promise<void> => {
    for (const stage of [...stages].reverse()) {
      try {
        await stage.close();
      } catch (err) {
        log.warn({ err, stage: stage.name }, 'stage close failed');
      }
    }
    await opsServer?.close();
    await sim?.close();
    await recorder?.close();
    await bus.close();
  };
  try {
    if (roles.engine) {
      stages.push(await startEngine({ bus, config: { depthIntervalMs: config.depthIntervalMs }, group: config.group }));
      if (config.clickhouse) {
        stages.push(await startClickHouseSink({ bus, url: config.clickhouse, database: config.clickhouseDb }));
      }
    }
    if (roles.gateway) {
      const history = config.clickhouse ? new ClickHouseHistoryStore({ url: config.clickhouse, database: config.clickhouseDb }) : undefined;
      const gateway = await startGateway({
        bus,
        host: config.host,
        port: config.port ?? 8080,
        history,
        healthSources: health,
        config: {
          ...(config.apiKeysFile ? { apiKeysFile: config.apiKeysFile } : {}),
          ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
        },
      });
      stages.push(gateway);
      gatewayUrl = gateway.url;
    }
    if (roles.ingest) {
      const selection = selectVenues(config);
      // ccxt venues: the exchange must exist in ccxt pro and not duplicate a native venue (unless forced).
      for (const { venue } of selection) {
        if (!isCcxtVenueId(venue)) continue;
        try {
          await resolveCcxtVenue(venue, { force: config.ccxtForce });
        } catch (err) {
          if (err instanceof CcxtVenueError) throw new ConfigError(err.message);
          throw err;
        }
      }
      if (!config.live) {
        sim = await startSimulatedVenues({
          venues: selection.map((s) => s.venue),
          symbols: Object.fromEntries(selection.map((s) => [s.venue, s.symbols])),
          seed: config.seed,
          scenario: config.scenario,
          timeScale: config.timeScale,
        });
      }
      const venues = selection.map(({ venue, symbols }) => isCcxtVenueId(venue) ? { venue, symbols, ccxt: { force: config.ccxtForce } } : ({
        venue,
        symbols,
        ...(sim ? sim.endpoints[venue] : {}),
        ...config.venueUrls[venue],
        checksum: !config.noChecksum.includes(venue),
      }));
      if (config.recordDir) {
        recorder = new RawRecorder({ dir: config.recordDir });
        await recorder.start();
      }
      stages.push(await startIngest({ bus, venues, ...(recorder ? { recorder: recorder.tap } : {}) }));
    }
    if (!roles.gateway) {
      const defaultPort = roles.ingest ? 9464 : 9465;
      opsServer = await startOpsServer({ host: config.host, port: config.port ?? defaultPort, health });
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    bus,
    stages,
    sim,
    gatewayUrl,
    opsUrl: opsServer ? `http://${config.host}:${opsServer.port}` : gatewayUrl,
    health,
    close,
  };
}
