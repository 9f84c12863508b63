/**
 * The system under test of e2e.bench.ts, in its own process: ingest (collector for the simulated
 * Binance spot venue) → bus (memory or Kafka) → engine → gateway, configured as `npm start` does
 * (defaults), except the gateway tick when the benchmark asks for it. Config comes as argv[2] (JSON);
 * reports `{ready, gatewayUrl}` over IPC and stops on `{cmd:'stop'}`.
 */
import { KafkaBus, MemoryBus } from '@depthwatch/bus';
import { startEngine } from '@depthwatch/engine';
import { startGateway } from '@depthwatch/gateway';
import { startIngest } from '@depthwatch/ingest';
import type { Bus, Stage } from '@depthwatch/schemas';

interface PipelineConfig {
  bus: 'memory' | 'kafka';
  brokers?: string;
  topicPrefix?: string;
  symbols: string[];
  restUrl: string;
  wsUrl: string;
  tickMs?: number;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]) as PipelineConfig;
  const bus: Bus =
    cfg.bus === 'kafka'
      ? await KafkaBus.connect({ brokers: [cfg.brokers!], clientId: 'depthwatch-bench', topicPrefix: cfg.topicPrefix, groupPrefix: cfg.topicPrefix, lagPollMs: 0 })
      : new MemoryBus();
  const stages: Stage[] = [];
  stages.push(await startEngine({ bus }));
  const gw = await startGateway({ bus, port: 0, config: cfg.tickMs ? { tickMs: cfg.tickMs } : {} });
  stages.push(gw);
  stages.push(await startIngest({ bus, venues: [{ venue: 'binance', symbols: cfg.symbols, restUrl: cfg.restUrl, wsUrl: cfg.wsUrl }] }));
  process.on('message', async (m: { cmd: string }) => {
    if (m.cmd !== 'stop') return;
    for (const s of stages.reverse()) await s.close().catch(() => {});
    await bus.close().catch(() => {});
    process.exit(0);
  });
  process.send!({ ready: true, gatewayUrl: gw.url });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
