import { isCcxtVenueId, type Stage } from '@depthwatch/schemas';
import { logger } from '@depthwatch/ops';
import { startGateway } from '@depthwatch/gateway';
import { parseSpeed, runRecord, runReplay } from '@depthwatch/ingest/replay/cli';
import { ConfigError, type Config } from './config.ts';

const log = logger('cli');

function onSignal(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Recording captures raw venue frames; ccxt owns the sockets of fallback venues, so there is nothing to record or replay. */
function refuseCcxtVenues(config: Config): void {
  const ccxt = (config.venues ?? []).filter(isCcxtVenueId);
  if (ccxt.length > 0) throw new ConfigError(`${config.command} works on raw venue traffic; ccxt fallback venues (${ccxt.join(', ')}) cannot be recorded or replayed`);
}

export async function runRecordCommand(config: Config): Promise<void> {
  if (!config.recordDir) throw new ConfigError('record needs --record-dir DIR');
  refuseCcxtVenues(config);
  const handle = await runRecord({
    recordDir: config.recordDir,
    venues: config.venues ?? undefined,
    symbols: config.symbols ?? undefined,
    live: config.live,
    seed: config.seed,
    scenario: config.scenario,
    timeScale: config.timeScale,
    venueUrls: config.venueUrls,
  });
  process.stdout.write(`depthwatch record: writing ${config.live ? 'LIVE' : 'SIMULATED'} venue traffic to ${config.recordDir} (Ctrl-C to stop)\n`);
  onSignal(async () => {
    await handle.stop();
    process.stdout.write(`recorded ${handle.recorder.stats.written} records into ${handle.recorder.files.join(', ')}\n`);
  });
}

export async function runReplayCommand(config: Config): Promise<void> {
  if (config.positionals.length === 0) throw new ConfigError('replay needs at least one recorded file: depthwatch replay FILE... [--speed max]');
  refuseCcxtVenues(config);
  let speed;
  try {
    speed = parseSpeed(config.speed);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const serve = config.port !== null;
  const counts = { depth: 0, alerts: 0 };
  const handle = await runReplay({
    files: config.positionals,
    speed,
    from: config.from ?? undefined,
    to: config.to ?? undefined,
    venues: config.venues ?? undefined,
    symbols: config.symbols ?? undefined,
    runId: config.runId ?? undefined,
    clickhouse: config.clickhouse ? { url: config.clickhouse, database: config.clickhouseDb } : undefined,
    onWarning: (message) => process.stderr.write(`warning: ${message}\n`),
    stages: async (bus) => {
      await bus.subscribe('out.depth', () => counts.depth++);
      await bus.subscribe('out.alert', () => counts.alerts++);
      const stages: Stage[] = [];
      if (serve) stages.push(await startGateway({ bus, host: config.host, port: config.port ?? 0 }));
      return stages;
    },
  });
  const r = handle.result;
  process.stdout.write(
    `replayed ${r.frames} frames from ${config.positionals.length} file(s) (run id ${handle.runId}): ${counts.depth} depth updates, ${counts.alerts} alert events` +
      `${r.truncated ? ', input was TRUNCATED (replayed up to the cut)' : ''}${r.warnings.length ? `, ${r.warnings.length} warning(s)` : ''}\n`,
  );
  if (!serve) {
    await handle.close();
    return;
  }
  const gateway = handle.stages.find((s) => s.name === 'gateway') as (Stage & { url?: string }) | undefined;
  process.stdout.write(`serving the replayed state on ${gateway?.url ?? '(gateway)'} (Ctrl-C to stop)\n`);
  onSignal(() => handle.close());
}
