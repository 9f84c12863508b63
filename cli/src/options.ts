/**
 * Every CLI option in one table: parsing, --help and config-file keys all come from here so they
 * cannot drift apart.
 */
export interface OptionSpec {
  name: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  env?: string;
  placeholder?: string;
  help: string;
  commands: readonly string[];
}

const ALL = ['start', 'ingest', 'engine', 'gateway', 'migrate', 'tail', 'record', 'replay'] as const;
const RUNNING = ['start', 'ingest', 'engine', 'gateway'] as const;

export const OPTIONS: readonly OptionSpec[] = [
  { name: 'config', type: 'string', short: 'c', env: 'DEPTHWATCH_CONFIG', placeholder: 'FILE', help: 'JSON config file; flags and env override its values', commands: ALL },
  { name: 'kafka', type: 'string', env: 'DEPTHWATCH_KAFKA', placeholder: 'HOST:PORT[,..]', help: 'Kafka brokers; ingest/engine/gateway alone need it, start without it runs on an in-memory bus', commands: [...RUNNING] },
  { name: 'kafka-partitions', type: 'string', env: 'DEPTHWATCH_KAFKA_PARTITIONS', placeholder: 'N', help: 'partitions per topic when topics are created (default 4)', commands: RUNNING },
  { name: 'topic-prefix', type: 'string', env: 'DEPTHWATCH_TOPIC_PREFIX', placeholder: 'PREFIX', help: 'prefix for Kafka topic names (isolates deployments sharing a broker)', commands: RUNNING },
  { name: 'group', type: 'string', env: 'DEPTHWATCH_GROUP', placeholder: 'ID', help: 'Kafka consumer group of this engine (engines in one group share symbols)', commands: ['engine'] },
  { name: 'clickhouse', type: 'string', env: 'DEPTHWATCH_CLICKHOUSE', placeholder: 'URL', help: 'ClickHouse HTTP URL; enables the history sink and the history API', commands: ['start', 'engine', 'gateway', 'migrate', 'replay'] },
  { name: 'clickhouse-db', type: 'string', env: 'DEPTHWATCH_CLICKHOUSE_DB', placeholder: 'NAME', help: 'ClickHouse database (default depthwatch)', commands: ['start', 'engine', 'gateway', 'migrate', 'replay'] },
  { name: 'venues', type: 'string', env: 'DEPTHWATCH_VENUES', placeholder: 'LIST', help: 'comma-separated venue ids to collect (default: every native venue); ccxt:<exchange id> (e.g. ccxt:gate) streams any other ccxt pro exchange through the generic fallback collector (needs --live and --symbols)', commands: ['start', 'ingest', 'record', 'replay'] },
  { name: 'ccxt-force', type: 'boolean', env: 'DEPTHWATCH_CCXT_FORCE', help: 'allow ccxt:<id> venues that duplicate a native venue (e.g. ccxt:binanceusdm beside binance-futures), to compare the two', commands: ['start', 'ingest'] },
  { name: 'symbols', type: 'string', env: 'DEPTHWATCH_SYMBOLS', placeholder: 'LIST', help: 'comma-separated unified symbols (BTC/USDT:USDT,...); default per venue', commands: ['start', 'ingest', 'record', 'replay'] },
  { name: 'live', type: 'boolean', env: 'DEPTHWATCH_LIVE', help: 'connect to the real exchanges instead of the simulated venues', commands: ['start', 'ingest', 'record'] },
  { name: 'scenario', type: 'string', env: 'DEPTHWATCH_SCENARIO', placeholder: 'NAME', help: 'simulated market: default (cascade at ~75 s, then every ~10 min), calm, cascade', commands: ['start', 'ingest', 'record'] },
  { name: 'seed', type: 'string', env: 'DEPTHWATCH_SEED', placeholder: 'N', help: 'seed of the simulated market (deterministic runs)', commands: ['start', 'ingest', 'record'] },
  { name: 'time-scale', type: 'string', env: 'DEPTHWATCH_TIME_SCALE', placeholder: 'X', help: 'simulated market speed-up of scenario timing (default 1)', commands: ['start', 'ingest', 'record'] },
  { name: 'rest-url', type: 'string', multiple: true, placeholder: 'VENUE=URL', help: 'override a venue REST base URL (repeatable)', commands: ['start', 'ingest', 'record'] },
  { name: 'ws-url', type: 'string', multiple: true, placeholder: 'VENUE=URL', help: 'override a venue WebSocket URL (repeatable)', commands: ['start', 'ingest', 'record'] },
  { name: 'no-checksum', type: 'string', multiple: true, placeholder: 'VENUE', help: 'disable checksum verification for a venue (failures are still counted)', commands: ['start', 'ingest'] },
  { name: 'host', type: 'string', env: 'DEPTHWATCH_HOST', placeholder: 'ADDR', help: 'listen address of the gateway / ops endpoint (default 127.0.0.1)', commands: [...RUNNING, 'replay'] },
  { name: 'port', type: 'string', short: 'p', env: 'DEPTHWATCH_PORT', placeholder: 'PORT', help: 'gateway port (default 8080; 0 = random); ops port for ingest/engine alone (default 9464/9465); replay: serve the replayed state on this port', commands: [...RUNNING, 'replay'] },
  { name: 'depth-interval', type: 'string', env: 'DEPTHWATCH_DEPTH_INTERVAL_MS', placeholder: 'MS', help: 'engine depth publication interval per symbol (default 100)', commands: ['start', 'engine'] },
  { name: 'api-keys', type: 'string', env: 'DEPTHWATCH_API_KEYS_FILE', placeholder: 'FILE', help: 'JSON file of gateway API keys and per-key limits (keys required when set)', commands: ['start', 'gateway'] },
  { name: 'allowed-origins', type: 'string', env: 'DEPTHWATCH_ALLOWED_ORIGINS', placeholder: 'LIST', help: 'browser origins allowed to open /v1/stream (default: any)', commands: ['start', 'gateway'] },
  { name: 'record-dir', type: 'string', env: 'DEPTHWATCH_RECORD_DIR', placeholder: 'DIR', help: 'write every raw venue frame and REST response to rotating gzip NDJSON files in DIR (docs/recording.md)', commands: ['start', 'ingest', 'record'] },
  { name: 'speed', type: 'string', placeholder: '1|10|max', help: 'replay speed relative to the recorded clock (default max)', commands: ['replay'] },
  { name: 'from', type: 'string', placeholder: 'TIME', help: 'replay from this time (epoch ms or ISO 8601)', commands: ['replay'] },
  { name: 'to', type: 'string', placeholder: 'TIME', help: 'replay up to this time (epoch ms or ISO 8601)', commands: ['replay'] },
  { name: 'run-id', type: 'string', placeholder: 'ID', help: 'store the replay output in ClickHouse under this run id (default replay-<uuid>)', commands: ['replay'] },
  { name: 'url', type: 'string', env: 'DEPTHWATCH_URL', placeholder: 'WS-URL', help: 'gateway stream URL (default ws://127.0.0.1:8080/v1/stream)', commands: ['tail'] },
  { name: 'venue', type: 'string', placeholder: 'VENUE', help: 'only this venue', commands: ['tail'] },
  { name: 'log-level', type: 'string', env: 'DEPTHWATCH_LOG_LEVEL', placeholder: 'LEVEL', help: 'fatal|error|warn|info|debug|trace|silent (default info)', commands: ALL },
  { name: 'help', type: 'boolean', short: 'h', help: 'show this help', commands: ALL },
];

export const COMMANDS: Record<string, string> = {
  start: 'run every stage in one process (simulated venues unless --live; in-memory bus unless --kafka)',
  ingest: 'run the collectors alone, publishing to Kafka',
  engine: 'run the engine (and the ClickHouse sink with --clickhouse) alone on Kafka',
  gateway: 'run the gateway alone on Kafka',
  migrate: 'apply ClickHouse migrations and exit',
  tail: 'print a live view of a channel: depthwatch tail depth BTC/USDT:USDT',
  record: 'record raw venue traffic to files, alone: depthwatch record --record-dir DIR',
  replay: 'replay recorded files through ingest and engine: depthwatch replay FILE... [--speed 1|10|max]',
};

export function helpText(command?: string): string {
  const lines: string[] = [];
  if (!command || !(command in COMMANDS)) {
    lines.push('depthwatch — real-time order-book depth, liquidations and cascade alerts', '', 'Usage: depthwatch <command> [options]', '', 'Commands:');
    for (const [name, text] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(9)} ${text}`);
    lines.push('', 'Options (commands they apply to in brackets):');
  } else {
    lines.push(`Usage: depthwatch ${command} [options]`, '', COMMANDS[command], '', 'Options:');
  }
  for (const opt of OPTIONS) {
    if (command && command in COMMANDS && !opt.commands.includes(command)) continue;
    const flag = `${opt.short ? `-${opt.short}, ` : '    '}--${opt.name}${opt.placeholder ? ` ${opt.placeholder}` : ''}`;
    const env = opt.env ? ` [env ${opt.env}]` : '';
    const where = command && command in COMMANDS ? '' : ` (${opt.commands.join(', ')})`;
    lines.push(`  ${flag.padEnd(34)} ${opt.help}${env}${where}`);
  }
  return lines.join('\n') + '\n';
}
