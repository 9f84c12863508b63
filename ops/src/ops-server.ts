import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StageHealth } from '@depthwatch/schemas';
import { registry } from './metrics.ts';

export type HealthSource = () => StageHealth[];

/** Combines stage healths: ready only when every stage is. Details are prefixed by stage index order. */
export function combineHealth(healths: StageHealth[]): StageHealth {
  const details: Record<string, string> = {};
  for (const h of healths) Object.assign(details, h.details);
  return { alive: healths.every((h) => h.alive), ready: healths.every((h) => h.ready), details };
}

/** Answers /healthz, /readyz and /metrics; returns false for other paths so a caller can serve them. */
export async function handleOpsRequest(req: IncomingMessage, res: ServerResponse, health: HealthSource): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0];
  if (path === '/healthz' || path === '/readyz') {
    const combined = combineHealth(health());
    const ok = path === '/healthz' ? combined.alive : combined.ready;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...combined }));
    return true;
  }
  if (path === '/metrics') {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(body);
    return true;
  }
  return false;
}

/** The HTTP endpoint of stages that have no gateway in their process (ingest alone, engine alone). */
export async function startOpsServer(opts: { host: string; port: number; health: HealthSource }): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    handleOpsRequest(req, res, opts.health)
      .then((handled) => {
        if (!handled) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] }));
        }
      })
      .catch((err: unknown) => {
        res.writeHead(500);
        res.end(String(err));
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
