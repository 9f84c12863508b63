import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { logger, registry } from '@depthwatch/ops';
import type { Bus, Stage, StageHealth } from '@depthwatch/schemas';
import { ApiKeyRegistry, resolveGatewayConfig, type GatewayConfig } from './config.ts';
import { historyCsv, historyJson, parseHistoryRequest } from './http/history.ts';
import { MemoryHistoryStore, type HistoryStore } from './http/history-store.ts';
import { gatewayMetrics as m } from './metrics.ts';
import { StreamHub, type ClientStats } from './stream/hub.ts';

export { DEFAULT_GATEWAY_CONFIG, resolveGatewayConfig, parseApiKeysEnv, type ApiKeyConfig, type GatewayConfig } from './config.ts';
export { MemoryHistoryStore, HISTORY_KINDS, type HistoryKind, type HistoryQuery, type HistoryRows, type HistoryStore } from './http/history-store.ts';
export { parseHistoryRequest } from './http/history.ts';
export { CHANNELS, type Channel } from './stream/protocol.ts';
export { tail, type TailOptions } from './tail.ts';

export interface GatewayOptions {
  bus: Bus;
  host?: string;
  /** 0 = random free port. Default 8080. */
  port?: number;
  config?: Partial<GatewayConfig>;
  /** Defaults to a MemoryHistoryStore fed from the bus. */
  history?: HistoryStore;
  /** Extra stages reported by /readyz (collectors, engine, sink …). */
  healthSources?: () => StageHealth[];
}

export interface Gateway extends Stage {
  readonly url: string;
  readonly port: number;
  readonly config: GatewayConfig;
  /** Per-connection figures (tests, debugging). */
  clientStats(): ClientStats[];
  /** Runs one coalescing tick now (tests). */
  tick(): void;
}

const WEB_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 503: 'Service Unavailable' };

function loadWeb(): Map<string, { body: Buffer; type: string }> {
  const out = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(WEB_FILES)) {
    out.set(path, { body: readFileSync(new URL(`./web/${file}`, import.meta.url)), type });
  }
  return out;
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ type: 'error', code, message });
}

function providedKey(req: IncomingMessage, url: URL): string | null {
  const header = req.headers['x-api-key'];
  if (typeof header === 'string' && header) return header;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  return url.searchParams.get('apikey');
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const cfg = resolveGatewayConfig(opts.config);
  const log = logger('gateway');
  const keys = new ApiKeyRegistry(cfg.apiKeys, cfg.defaultKeyMaxConnections);
  const keyConnections = new Map<string, number>();
  const web = loadWeb();
  const hub = new StreamHub(cfg, log);
  let ownHistory: MemoryHistoryStore | null = null;
  let history: HistoryStore;
  if (opts.history) history = opts.history;
  else {
    ownHistory = new MemoryHistoryStore(cfg.historyCapacity);
    history = ownHistory;
  }
  let pendingUpgrades = 0;
  let listening = false;
  let closed = false;

  const originAllowed = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    if (!origin) return true; // non-browser client
    if (cfg.allowedOrigins.includes('*') || cfg.allowedOrigins.includes(origin)) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  };

  /** Auth + origin shared by the stream and the history API; returns the key name, or a refusal. */
  const admit = (req: IncomingMessage, url: URL): { ok: true; key: { name: string; maxConnections: number } | null } | { ok: false; status: number; code: string; message: string } => {
    if (!originAllowed(req)) {
      return { ok: false, status: 403, code: 'forbidden_origin', message: `origin ${String(req.headers.origin)} is not allowed (configure allowedOrigins)` };
    }
    if (!keys.enabled) return { ok: true, key: null };
    const k = keys.check(providedKey(req, url));
    if (!k) return { ok: false, status: 401, code: 'unauthorized', message: 'a valid API key is required (header x-api-key, Authorization: Bearer, or ?apikey=)' };
    return { ok: true, key: k };
  };

  const health = (): StageHealth => {
    const details: Record<string, string> = {};
    if (!listening) details.http = 'not listening';
    if (!hub.attached) details.bus = 'not subscribed to the bus';
    const h = history.health?.();
    if (h && !h.ready) details.history = h.detail;
    return { alive: listening && !closed, ready: listening && hub.attached && !closed && (!h || h.ready), details };
  };

  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store', ...extra });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  };
  const sendJson = (res: ServerResponse, status: number, body: string) => send(res, status, 'application/json', body);

  const handleHistory = async (req: IncomingMessage, res: ServerResponse, url: URL, kindText: string) => {
    const admitted = admit(req, url);
    if (!admitted.ok) {
      m.refused.inc({ reason: admitted.code });
      m.historyRequests.inc({ kind: 'refused', status: String(admitted.status) });
      return sendJson(res, admitted.status, errorBody(admitted.code, admitted.message));
    }
    const parsed = parseHistoryRequest(kindText, url.searchParams, { maxLimit: cfg.historyMaxLimit, defaultLimit: cfg.historyDefaultLimit });
    if (!parsed.ok) {
      m.refused.inc({ reason: parsed.code });
      m.historyRequests.inc({ kind: parsed.status === 404 ? 'unknown' : kindText, status: String(parsed.status) });
      return sendJson(res, parsed.status, errorBody(parsed.code, parsed.message));
    }
    try {
      const rows = await history.query(parsed.kind, parsed.query);
      m.historyRequests.inc({ kind: parsed.kind, status: '200' });
      if (parsed.format === 'csv') {
        return send(res, 200, 'text/csv; charset=utf-8', historyCsv(parsed.kind, rows), {
          'content-disposition': `attachment; filename="${parsed.kind}.csv"`,
        });
      }
      return sendJson(res, 200, historyJson(parsed.kind, rows, parsed.query));
    } catch (err) {
      log.error({ err, kind: parsed.kind }, 'history query failed');
      m.historyRequests.inc({ kind: parsed.kind, status: '503' });
      return sendJson(res, 503, errorBody('history_unavailable', 'the history store failed to answer; try again'));
    }
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'application/json', errorBody('method_not_allowed', 'only GET and HEAD are supported'), { allow: 'GET, HEAD' });
    }
    if (path === '/healthz') {
      const h = health();
      return sendJson(res, h.alive ? 200 : 503, JSON.stringify({ alive: h.alive }));
    }
    if (path === '/readyz') {
      const stages = [{ name: 'gateway', ...health() }, ...(opts.healthSources?.() ?? []).map((h, i) => ({ name: `source-${i + 1}`, ...h }))];
      const ready = stages.every((s) => s.ready);
      return sendJson(res, ready ? 200 : 503, JSON.stringify({ ready, stages }));
    }
    if (path === '/metrics') {
      const body = await registry.metrics();
      return send(res, 200, registry.contentType, body);
    }
    if (path.startsWith('/v1/history/')) return handleHistory(req, res, url, path.slice('/v1/history/'.length));
    if (path === '/v1/stream') return sendJson(res, 426, errorBody('upgrade_required', 'this endpoint speaks WebSocket'));
    const file = web.get(path);
    if (file) {
      return send(res, 200, file.type, file.body, {
        'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'",
        'referrer-policy': 'no-referrer',
      });
    }
    return sendJson(res, 404, errorBody('not_found', `no route ${path}`));
  };

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err) => {
      log.error({ err }, 'http handler failed');
      if (!res.headersSent) sendJson(res, 500, errorBody('internal', 'internal error'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: cfg.hardMaxMessageBytes, clientTracking: false });

  const rejectUpgrade = (socket: Duplex, status: number, code: string, message: string) => {
    m.refused.inc({ reason: code });
    const body = errorBody(code, message);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    setTimeout(() => socket.destroy(), 1000).unref();
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/v1/stream') return rejectUpgrade(socket, 404, 'not_found', `no WebSocket endpoint at ${url.pathname}; use /v1/stream`);
    if (closed) return rejectUpgrade(socket, 503, 'shutting_down', 'the gateway is shutting down');
    const admitted = admit(req, url);
    if (!admitted.ok) return rejectUpgrade(socket, admitted.status, admitted.code, admitted.message);
    if (hub.clients.size + pendingUpgrades >= cfg.maxConnections) {
      return rejectUpgrade(socket, 503, 'too_many_connections', `the gateway is at its limit of ${cfg.maxConnections} connections; retry later`);
    }
    const key = admitted.key;
    if (key) {
      const used = keyConnections.get(key.name) ?? 0;
      if (used >= key.maxConnections) {
        return rejectUpgrade(socket, 429, 'key_connection_limit', `this API key already has ${used} of its ${key.maxConnections} connections open`);
      }
      keyConnections.set(key.name, used + 1);
    }
    pendingUpgrades++;
    let settled = false;
    const release = () => {
      if (settled) return;
      settled = true;
      pendingUpgrades--;
    };
    socket.once('close', () => {
      if (!settled && key) keyConnections.set(key.name, (keyConnections.get(key.name) ?? 1) - 1);
      release();
    });
    wss.handleUpgrade(req, socket, head, (ws) => {
      release();
      const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
      const c = hub.addClient(ws, key?.name ?? null, remote);
      if (key) ws.once('close', () => keyConnections.set(key.name, (keyConnections.get(key.name) ?? 1) - 1));
      log.debug({ client: c.id, remote, key: key?.name ?? null }, 'client connected');
    });
  });

  await hub.attach(opts.bus);
  if (ownHistory) await ownHistory.attach(opts.bus);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 8080, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await hub.stop();
    if (ownHistory) await ownHistory.close();
    throw err;
  }
  hub.start();
  listening = true;
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${addr.port}`;
  log.info({ url, apiKeys: keys.size, tickMs: cfg.tickMs, maxConnections: cfg.maxConnections }, 'gateway listening');

  return {
    name: 'gateway',
    url,
    port: addr.port,
    config: cfg,
    health,
    clientStats: () => hub.stats(),
    tick: () => hub.tick(),
    async close() {
      if (closed) return;
      closed = true;
      await hub.stop();
      if (ownHistory) await ownHistory.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => {
          for (const c of hub.clients) c.ws.terminate();
          server.closeAllConnections();
        }, Math.min(cfg.closeGraceMs, 1000)).unref();
      });
      listening = false;
    },
  };
}
