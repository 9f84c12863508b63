import { logger } from '@depthwatch/ops';
import type { Config } from './config.ts';
import { ROLES_BY_COMMAND, startPipeline } from './pipeline.ts';

const log = logger('cli');

/** Runs until SIGINT/SIGTERM, then closes stages in reverse start order so nothing is lost in flight. */
export async function runStages(config: Config): Promise<void> {
  const pipeline = await startPipeline(config, ROLES_BY_COMMAND[config.command]);
  const lines: string[] = [];
  if (pipeline.gatewayUrl) {
    const http = pipeline.gatewayUrl;
    lines.push(`depthwatch ${config.command}: gateway listening on ${http}`);
    lines.push(`  live page   ${http}/`);
    lines.push(`  stream      ${http.replace(/^http/, 'ws')}/v1/stream`);
    lines.push(`  metrics     ${http}/metrics`);
  } else if (pipeline.opsUrl) {
    lines.push(`depthwatch ${config.command}: health and metrics on ${pipeline.opsUrl}/healthz, /readyz, /metrics`);
  }
  if (pipeline.sim) {
    lines.push(`  venues      SIMULATED (${Object.keys(pipeline.sim.endpoints).join(', ')}; scenario ${config.scenario}) — use --live for the real exchanges`);
  } else if (config.command === 'start' || config.command === 'ingest') {
    lines.push('  venues      LIVE exchanges');
  }
  lines.push(`  bus         ${config.kafka ? `Kafka ${config.kafka.join(',')}` : 'in-memory (one process)'}`);
  if (config.clickhouse) lines.push(`  history     ClickHouse ${config.clickhouse} (database ${config.clickhouseDb})`);
  process.stdout.write(lines.join('\n') + '\n');
  log.info({ gateway: pipeline.gatewayUrl, simulated: Boolean(pipeline.sim), kafka: config.kafka }, 'started');

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    pipeline.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
