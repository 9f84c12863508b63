import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface ApiKeyConfig {
  /** Shown in logs and metrics instead of the key. */
  name: string;
  key: string;
  /** Concurrent WebSocket connections allowed for this key (default: defaultKeyMaxConnections). */
  maxConnections?: number;
}

/** Every limit of the gateway. Defaults in DEFAULT_GATEWAY_CONFIG; documented in docs/protocol.md. */
export interface GatewayConfig {
  /**
   * Minimum interval between two frames to one connection (ms). Frames are not sent on a fixed
   * tick: a connection's pending messages are flushed right after the event-loop turn in which they
   * were queued (setImmediate), so everything arriving in one I/O turn coalesces into one frame,
   * and then at most once per tickMs; under load a flush pass takes longer and the next one picks
   * up everything queued meanwhile (natural batching).
   */
  tickMs: number;
  /**
   * Clients visited per slice of a flush pass. A pass over more clients yields to the event loop
   * (setImmediate) between slices, so bus events, client requests and new connections are handled
   * while thousands of clients are written to; every client in the pass is still visited in order.
   */
  passSliceClients: number;
  maxConnections: number;
  /** Active subscriptions (one per accepted `subscribe`) per connection. */
  maxSubscriptionsPerConnection: number;
  /** Entries per filter list (venues, symbols, assets) in one subscribe. */
  maxFilterItems: number;
  /** Client messages larger than this get a `message_too_large` error (connection stays up). */
  maxMessageBytes: number;
  /** Hard ceiling: larger client frames close the connection with 1009 (ws maxPayload). */
  hardMaxMessageBytes: number;
  defaultBookDepth: number;
  maxBookDepth: number;
  /** Token bucket for client requests: refill per second and burst. */
  rateLimitPerSec: number;
  rateLimitBurst: number;
  /** Above this many bytes waiting in the socket (ws.bufferedAmount) the client is "behind": nothing more is written. */
  softBufferBytes: number;
  /** Above this the client is disconnected at once. */
  hardBufferBytes: number;
  /** Bytes of queued non-conflatable messages (trades, liquidations, alerts) kept for a behind client; beyond, they are dropped with a notice. */
  maxPendingBytes: number;
  /** A client continuously behind for this long is disconnected (4001). */
  slowDisconnectMs: number;
  /** After the close frame is queued, a client that does not complete the close handshake is terminated after this. */
  closeGraceMs: number;
  /** Protocol-level ping interval; a client that missed the previous pong is terminated. */
  keepaliveMs: number;
  /** API keys; empty = no authentication. Merged with apiKeysFile and env DEPTHWATCH_API_KEYS. */
  apiKeys: ApiKeyConfig[];
  /** JSON file: `[{"name":"desk","key":"...","maxConnections":10}]` or `{"keys":[...]}`. */
  apiKeysFile: string | null;
  defaultKeyMaxConnections: number;
  /**
   * Browser origins allowed to open the stream / call the API. Requests without an Origin header
   * (non-browser clients) are always allowed; same-origin requests always are. `['*']` allows any.
   */
  allowedOrigins: string[];
  /** Rows per kind kept by the in-memory history store. */
  historyCapacity: number;
  /** Maximum rows one history request may ask for. */
  historyMaxLimit: number;
  historyDefaultLimit: number;
}

export const DEFAULT_GATEWAY_CONFIG: Readonly<GatewayConfig> = Object.freeze({
  tickMs: 2,
  passSliceClients: 256,
  maxConnections: 5000,
  maxSubscriptionsPerConnection: 64,
  maxFilterItems: 256,
  maxMessageBytes: 16 * 1024,
  hardMaxMessageBytes: 1024 * 1024,
  defaultBookDepth: 25,
  maxBookDepth: 1000,
  rateLimitPerSec: 20,
  rateLimitBurst: 40,
  softBufferBytes: 1024 * 1024,
  hardBufferBytes: 8 * 1024 * 1024,
  maxPendingBytes: 2 * 1024 * 1024,
  slowDisconnectMs: 5000,
  closeGraceMs: 2000,
  keepaliveMs: 20_000,
  apiKeys: [],
  apiKeysFile: null,
  defaultKeyMaxConnections: 100,
  allowedOrigins: [],
  historyCapacity: 20_000,
  historyMaxLimit: 10_000,
  historyDefaultLimit: 1000,
});

/** Parses `DEPTHWATCH_API_KEYS`: comma-separated `name:key[:maxConnections]` or bare `key`. */
export function parseApiKeysEnv(value: string | undefined): ApiKeyConfig[] {
  if (!value) return [];
  const out: ApiKeyConfig[] = [];
  value.split(',').map((s) => s.trim()).filter(Boolean).forEach((entry, i) => {
    const parts = entry.split(':');
    if (parts.length === 1) out.push({ name: `env-key-${i + 1}`, key: parts[0] });
    else {
      const max = parts[2] !== undefined ? Number(parts[2]) : undefined;
      if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
        throw new Error(`DEPTHWATCH_API_KEYS entry ${i + 1}: maxConnections must be a positive integer`);
      }
      out.push({ name: parts[0], key: parts[1], ...(max !== undefined ? { maxConnections: max } : {}) });
    }
  });
  return out;
}

function readKeysFile(path: string): ApiKeyConfig[] {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  const list = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(list)) throw new Error(`${path}: expected an array of {name,key,maxConnections?} or {"keys":[...]}`);
  return list as ApiKeyConfig[];
}

export function resolveGatewayConfig(partial: Partial<GatewayConfig> = {}, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const cfg: GatewayConfig = { ...DEFAULT_GATEWAY_CONFIG, ...partial };
  const keys = [...(partial.apiKeys ?? [])];
  if (cfg.apiKeysFile) keys.push(...readKeysFile(cfg.apiKeysFile));
  keys.push(...parseApiKeysEnv(env.DEPTHWATCH_API_KEYS));
  for (const [i, k] of keys.entries()) {
    if (!k || typeof k.key !== 'string' || k.key.length < 8) throw new Error(`API key #${i + 1} (${k?.name ?? '?'}): key must be a string of at least 8 characters`);
    if (typeof k.name !== 'string' || !k.name) throw new Error(`API key #${i + 1}: name required`);
  }
  cfg.apiKeys = keys;
  const positive: (keyof GatewayConfig)[] = [
    'tickMs', 'passSliceClients', 'maxConnections', 'maxSubscriptionsPerConnection', 'maxFilterItems', 'maxMessageBytes', 'hardMaxMessageBytes',
    'defaultBookDepth', 'maxBookDepth', 'rateLimitPerSec', 'rateLimitBurst', 'softBufferBytes', 'hardBufferBytes',
    'maxPendingBytes', 'slowDisconnectMs', 'closeGraceMs', 'keepaliveMs', 'historyCapacity', 'historyMaxLimit', 'historyDefaultLimit',
  ];
  for (const k of positive) {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`gateway config ${k} must be a positive number`);
  }
  if (cfg.maxBookDepth > 1000) throw new Error('gateway config maxBookDepth must be ≤ 1000');
  if (cfg.hardBufferBytes < cfg.softBufferBytes) throw new Error('gateway config hardBufferBytes must be ≥ softBufferBytes');
  return cfg;
}

interface KeyEntry { name: string; digest: Buffer; maxConnections: number }

/**
 * API key check in constant time: both sides are hashed to fixed-length digests and every
 * configured key is compared (no early exit), so timing reveals neither the key nor which matched.
 */
export class ApiKeyRegistry {
  private readonly entries: KeyEntry[];
  constructor(keys: ApiKeyConfig[], defaultMax: number) {
    this.entries = keys.map((k) => ({
      name: k.name,
      digest: createHash('sha256').update(k.key, 'utf8').digest(),
      maxConnections: k.maxConnections ?? defaultMax,
    }));
  }

  get enabled(): boolean {
    return this.entries.length > 0;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Returns the key's name and limit, or null. */
  check(provided: string | null | undefined): { name: string; maxConnections: number } | null {
    if (!provided) return null;
    const digest = createHash('sha256').update(provided, 'utf8').digest();
    let found: KeyEntry | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(digest, e.digest) && found === null) found = e;
    }
    return found ? { name: found.name, maxConnections: found.maxConnections } : null;
  }
}
