import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { VENUE_ID_HELP, isCcxtVenueId, isUnifiedSymbol, isVenueId, type VenueId } from '@depthwatch/schemas';
import { COMMANDS, OPTIONS } from './options.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface VenueUrls {
  restUrl?: string;
  wsUrl?: string;
}

export interface Config {
  command: string;
  positionals: string[];
  help: boolean;
  kafka: string[] | null;
  kafkaPartitions: number;
  topicPrefix: string;
  group: string;
  clickhouse: string | null;
  clickhouseDb: string;
  venues: VenueId[] | null;
  /** Allow ccxt:<id> venues whose exchange has a native collector. */
  ccxtForce: boolean;
  symbols: string[] | null;
  live: boolean;
  scenario: 'default' | 'calm' | 'cascade';
  seed: number;
  timeScale: number;
  venueUrls: Partial<Record<VenueId, VenueUrls>>;
  noChecksum: VenueId[];
  host: string;
  port: number | null;
  depthIntervalMs: number;
  apiKeysFile: string | null;
  allowedOrigins: string[] | null;
  url: string;
  venue: VenueId | null;
  logLevel: string;
  recordDir: string | null;
  speed: string;
  from: string | null;
  to: string | null;
  runId: string | null;
}

type Raw = Record<string, string | boolean | string[] | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const DB_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Flags override env, env overrides the config file: the usual precedence ops expect. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const [command = 'help', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    return finalize('help', [], { help: true });
  }
  if (!(command in COMMANDS)) {
    throw new ConfigError(`unknown command "${command}"; expected one of: ${Object.keys(COMMANDS).join(', ')}`);
  }
  const options = Object.fromEntries(
    OPTIONS.map((o) => [o.name, { type: o.type, multiple: o.multiple ?? false, ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: options as never, allowPositionals: true, strict: true });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message} (see depthwatch ${command} --help)`);
  }
  const flags = parsed.values as Raw;
  for (const name of Object.keys(flags)) {
    const spec = OPTIONS.find((o) => o.name === name);
    if (spec && !spec.commands.includes(command)) throw new ConfigError(`option --${name} does not apply to "${command}"`);
  }
  const fileValues = readConfigFile((flags.config as string | undefined) ?? env.DEPTHWATCH_CONFIG);
  const raw: Raw = { ...fileValues };
  for (const opt of OPTIONS) {
    const fromEnv = opt.env ? env[opt.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') raw[opt.name] = opt.type === 'boolean' ? ['1', 'true', 'yes'].includes(fromEnv.toLowerCase()) : fromEnv;
  }
  Object.assign(raw, flags);
  return finalize(command, parsed.positionals, raw);
}

function readConfigFile(path: string | undefined): Raw {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`config file ${path} must hold a JSON object`);
  const out: Raw = {};
  for (const [key, v] of Object.entries(value)) {
    const spec = OPTIONS.find((o) => o.name === key);
    if (!spec || key === 'config' || key === 'help') throw new ConfigError(`config file ${path}: unknown key "${key}"`);
    if (spec.type === 'boolean' && typeof v !== 'boolean') throw new ConfigError(`config file ${path}: "${key}" must be true or false`);
    if (spec.type === 'string' && spec.multiple && !(Array.isArray(v) && v.every((x) => typeof x === 'string'))) throw new ConfigError(`config file ${path}: "${key}" must be an array of strings`);
    if (spec.type === 'string' && !spec.multiple && typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`config file ${path}: "${key}" must be a string`);
    out[key] = typeof v === 'number' ? String(v) : (v as string | boolean | string[]);
  }
  return out;
}

function str(raw: Raw, key: string): string | undefined {
  const v = raw[key];
  return typeof v === 'string' ? v : undefined;
}

function list(raw: Raw, key: string): string[] | null {
  const v = str(raw, key);
  if (v === undefined) return null;
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(`--${key} is empty`);
  return items;
}

function int(raw: Raw, key: string, fallback: number, min: number, max: number): number {
  const v = str(raw, key);
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v)) throw new ConfigError(`--${key} must be an integer, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new ConfigError(`--${key} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function num(raw: Raw, key: string, fallback: number, min: number, max: number): number {
  const v = str(raw, key);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new ConfigError(`--${key} must be a number between ${min} and ${max}, got "${v}"`);
  return n;
}

function venue(name: string, where: string): VenueId {
  if (!isVenueId(name)) throw new ConfigError(`${where}: unknown venue "${name}"; expected one of: ${VENUE_ID_HELP}`);
  return name;
}

/** Venue options that only native collectors have: ccxt venues take endpoints and checks from ccxt. */
function nativeVenue(name: string, where: string): VenueId {
  const v = venue(name, where);
  if (isCcxtVenueId(v)) throw new ConfigError(`${where}: ${v} is a ccxt fallback venue; its endpoints and checks come from ccxt`);
  return v;
}

function url(value: string, where: string, protocols: string[]): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${where}: "${value}" is not a URL`);
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(`${where}: "${value}" must use ${protocols.join(' or ')}`);
  return value;
}

function finalize(command: string, positionals: string[], raw: Raw): Config {
  const kafka = list(raw, 'kafka');
  if (kafka) for (const b of kafka) if (!/^[A-Za-z0-9.\-_]+:\d{1,5}$/.test(b)) throw new ConfigError(`--kafka: "${b}" is not HOST:PORT`);
  const clickhouse = str(raw, 'clickhouse');
  const clickhouseDb = str(raw, 'clickhouse-db') ?? 'depthwatch';
  if (!DB_NAME.test(clickhouseDb)) throw new ConfigError(`--clickhouse-db: "${clickhouseDb}" is not a valid database name`);
  const venues = list(raw, 'venues')?.map((v) => venue(v, '--venues')) ?? null;
  const symbols = list(raw, 'symbols');
  if (symbols) for (const s of symbols) if (!isUnifiedSymbol(s)) throw new ConfigError(`--symbols: "${s}" is not a unified symbol like BTC/USDT:USDT or ETH/USDT`);
  const scenario = str(raw, 'scenario') ?? 'default';
  if (!['default', 'calm', 'cascade'].includes(scenario)) throw new ConfigError(`--scenario must be default, calm or cascade, got "${scenario}"`);
  const venueUrls: Partial<Record<VenueId, VenueUrls>> = {};
  for (const [key, field, protocols] of [['rest-url', 'restUrl', ['http:', 'https:']], ['ws-url', 'wsUrl', ['ws:', 'wss:']]] as const) {
    const values = raw[key];
    for (const entry of Array.isArray(values) ? values : []) {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw new ConfigError(`--${key} must be VENUE=URL, got "${entry}"`);
      const v = nativeVenue(entry.slice(0, eq), `--${key}`);
      venueUrls[v] = { ...venueUrls[v], [field]: url(entry.slice(eq + 1), `--${key}`, [...protocols]) };
    }
  }
  const noChecksumRaw = raw['no-checksum'];
  const noChecksum = (Array.isArray(noChecksumRaw) ? noChecksumRaw : []).map((v) => nativeVenue(v, '--no-checksum'));
  const logLevel = str(raw, 'log-level') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const speed = str(raw, 'speed') ?? 'max';
  if (speed !== 'max' && !(Number(speed) > 0)) throw new ConfigError(`--speed must be a positive number or max, got "${speed}"`);
  for (const key of ['from', 'to'] as const) {
    const v = str(raw, key);
    if (v !== undefined && !/^\d+$/.test(v) && !Number.isFinite(Date.parse(v))) throw new ConfigError(`--${key} must be epoch ms or an ISO 8601 time, got "${v}"`);
  }
  const runId = str(raw, 'run-id') ?? null;
  if (runId !== null && !/^[A-Za-z0-9_.-]{1,64}$/.test(runId)) throw new ConfigError(`--run-id may hold only letters, digits, _ . - (1 to 64 characters)`);
  const portRaw = str(raw, 'port');
  const tailVenue = str(raw, 'venue');
  return {
    command,
    positionals,
    help: raw.help === true,
    kafka,
    kafkaPartitions: int(raw, 'kafka-partitions', 4, 1, 1024),
    topicPrefix: str(raw, 'topic-prefix') ?? '',
    group: str(raw, 'group') ?? 'depthwatch-engine',
    clickhouse: clickhouse ? url(clickhouse, '--clickhouse', ['http:', 'https:']) : null,
    clickhouseDb,
    venues,
    ccxtForce: raw['ccxt-force'] === true,
    symbols,
    live: raw.live === true,
    scenario: scenario as Config['scenario'],
    seed: int(raw, 'seed', 42, 0, 2 ** 31 - 1),
    timeScale: num(raw, 'time-scale', 1, 0.01, 1000),
    venueUrls,
    noChecksum,
    host: str(raw, 'host') ?? '127.0.0.1',
    port: portRaw === undefined ? null : int(raw, 'port', 0, 0, 65535),
    depthIntervalMs: int(raw, 'depth-interval', 100, 1, 60_000),
    apiKeysFile: str(raw, 'api-keys') ?? null,
    allowedOrigins: list(raw, 'allowed-origins'),
    url: url(str(raw, 'url') ?? 'ws://127.0.0.1:8080/v1/stream', '--url', ['ws:', 'wss:']),
    venue: tailVenue ? venue(tailVenue, '--venue') : null,
    logLevel,
    recordDir: str(raw, 'record-dir') ?? null,
    speed,
    from: str(raw, 'from') ?? null,
    to: str(raw, 'to') ?? null,
    runId,
  };
}
