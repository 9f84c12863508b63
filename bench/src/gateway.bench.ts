/**
 * Gateway fan-out: messages/s delivered to 1 k and 10 k real `ws` subscribers (5 % of them slow),
 * and message latency, for our gateway (coalesced per-client-per-tick frames, serialize once) and
 * for a naive per-message broadcast (JSON.stringify each message, ws.send it to every client) under
 * the SAME offered load, measured the same way.
 *
 * Server(s) and the publisher run in this process (one core); the clients run in a forked process
 * (bench/src/ws-clients.ts). Offered load: 20 symbols' `depth` at 10 Hz each plus 100 trades/s, i.e.
 * 300 messages/s to every subscriber (3 M msgs/s offered at 10 k). The publisher keeps the offered
 * rate whatever the event loop does (it catches up on elapsed time, up to 200 ms worth).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { MemoryBus } from '@depthwatch/bus';
import { startGateway } from '@depthwatch/gateway';
import { depthEvent, tradeEvent } from '@depthwatch/gateway/testing';
import type { Bus } from '@depthwatch/schemas';
import { ClientsProc, type WindowStats } from './clients-proc.ts';
import { log, main, partial, sleep, type BenchResult } from './common.ts';
import { figure, median, withPeer, type Figure } from './harness.ts';

const GROUP = 'gateway';
const SIZES = (process.env['BENCH_GATEWAY_SIZES'] ?? '1000,10000').split(',').map(Number);
const WINDOWS = Number(process.env['BENCH_GATEWAY_WINDOWS'] ?? 3);
const WINDOW_MS = Number(process.env['BENCH_GATEWAY_WINDOW_MS'] ?? 3000);
const SLOW = 0.05;
const SYMBOLS = Array.from({ length: 20 }, (_, i) => (i < 10 ? `S${i}/USDT` : `S${i}/USDT:USDT`));
const DEPTH_HZ = 10;
const TRADES_PER_SEC = 100;
const OFFERED_PER_CLIENT = SYMBOLS.length * DEPTH_HZ + TRADES_PER_SEC;

/** Publishes the offered load on the bus at a fixed rate, catching up on elapsed time. */
function startPublisher(bus: Bus): { stop(): void; published(): number } {
  const depthRate = SYMBOLS.length * DEPTH_HZ;
  const t0 = performance.now();
  let depthSent = 0;
  let tradesSent = 0;
  let seq = 0;
  const timer = setInterval(() => {
    const el = (performance.now() - t0) / 1000;
    const now = Date.now();
    let dueDepth = Math.floor(el * depthRate) - depthSent;
    let dueTrades = Math.floor(el * TRADES_PER_SEC) - tradesSent;
    // Never more than 200 ms worth at once: a stalled loop loses offered load rather than bursting.
    if (dueDepth > depthRate / 5) {
      depthSent += dueDepth - depthRate / 5;
      dueDepth = depthRate / 5;
    }
    if (dueTrades > TRADES_PER_SEC / 5) {
      tradesSent += dueTrades - TRADES_PER_SEC / 5;
      dueTrades = TRADES_PER_SEC / 5;
    }
    for (let i = 0; i < dueDepth; i++) {
      const symbol = SYMBOLS[depthSent % SYMBOLS.length];
      depthSent++;
      bus.publish('out.depth', `binance:${symbol}`, depthEvent('binance', symbol, 100 + (seq % 7), ++seq, { ts: now }));
    }
    for (let i = 0; i < dueTrades; i++) {
      const symbol = SYMBOLS[tradesSent % SYMBOLS.length];
      tradesSent++;
      const t = tradeEvent('binance', symbol, ++seq, 100 + (seq % 7));
      t.ts = now;
      t.recvTs = now;
      bus.publish('md.trade', `binance:${symbol}`, t);
    }
  }, 5);
  return { stop: () => clearInterval(timer), published: () => depthSent + tradesSent };
}

/** The naive peer: every message JSON.stringify'd and ws.send to every client. */
async function startNaive(bus: Bus): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const clients = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('error', () => clients.delete(ws));
  });
  const broadcast = (e: unknown) => {
    const text = JSON.stringify(e);
    for (const ws of clients) {
      // The one concession to survival: skip a client with > 1 MiB unsent (otherwise the process runs out of memory).
      if (ws.readyState === WebSocket.OPEN && ws.bufferedAmount < 1 << 20) ws.send(text);
    }
  };
  const unsubs = [await bus.subscribe('out.depth', broadcast), await bus.subscribe('md.trade', broadcast)];
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    async close() {
      for (const u of unsubs) await u();
      for (const ws of clients) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

interface Measured {
  windows: WindowStats[];
}

async function measure(clients: ClientsProc, url: string, n: number, subscribe: string | undefined, bus: Bus): Promise<Measured> {
  const { ms } = await clients.connect(url, n, { slowFraction: SLOW, latencyEvery: n >= 5000 ? 50 : 4, subscribe });
  log(`gateway: ${n} clients connected to ${url} in ${ms.toFixed(0)} ms`);
  const pub = startPublisher(bus);
  await clients.window(1000); // warm-up
  const windows: WindowStats[] = [];
  // 10 k clients take long to connect on a busy 2-core box: fewer windows there keep the suite in budget.
  const nWindows = n >= 5000 ? Math.min(WINDOWS, 2) : WINDOWS;
  for (let i = 0; i < nWindows; i++) {
    const w = await clients.window(WINDOW_MS);
    windows.push(w);
    log(
      `  window ${i + 1}: ${(w.msgsPerSec / 1e3).toFixed(0)} k msgs/s delivered (${(w.framesPerSec / 1e3).toFixed(1)} k frames/s), offered ${((OFFERED_PER_CLIENT * n) / 1e3).toFixed(0)} k/s; ` +
        `latency p50 ${w.p50} p99 ${w.p99} p99.9 ${w.p999} ms (${w.latencySamples} samples); open ${w.open}, slow closed ${w.slowClosed}, fast closed ${w.fastClosed}`,
    );
  }
  pub.stop();
  await clients.disconnect();
  await sleep(500);
  return { windows };
}

export async function run(): Promise<BenchResult> {
  const figures: Figure[] = [];
  const clients = await ClientsProc.start();
  try {
    for (const n of SIZES) {
      // ---- ours
      const bus = new MemoryBus();
      const gw = await startGateway({ bus, port: 0, config: { maxConnections: n + 100 } });
      const wsUrl = gw.url.replace('http', 'ws') + '/v1/stream';
      const sub = JSON.stringify({ op: 'subscribe', channels: ['depth', 'trades'] });
      const ours = await measure(clients, wsUrl, n, sub, bus);
      await gw.close();
      await bus.close();
      // ---- naive peer, same load
      const bus2 = new MemoryBus();
      const naive = await startNaive(bus2);
      const peer = await measure(clients, naive.url, n, undefined, bus2);
      await naive.close();
      await bus2.close();

      const mk = (ws: WindowStats[], f: (w: WindowStats) => number) => ws.map(f);
      const label = `${n >= 1000 ? `${n / 1000} k` : n} subscribers`;
      const lastO = ours.windows[ours.windows.length - 1];
      const lastP = peer.windows[peer.windows.length - 1];
      figures.push(
        withPeer(
          {
            group: GROUP,
            name: `messages/s delivered, ${label} (5 % slow)`,
            unit: 'msgs/s',
            runs: mk(ours.windows, (w) => w.msgsPerSec),
            bar: n >= 10_000 ? '≥ 500 k msgs/s; ≥ 4× naive' : undefined,
            note:
              `offered ${OFFERED_PER_CLIENT} msgs/s per subscriber (${((OFFERED_PER_CLIENT * n) / 1e6).toFixed(2)} M/s total: 20 depth streams × 10 Hz + 100 trades/s); ` +
              `ours delivered ${(median(mk(ours.windows, (w) => w.framesPerSec)) / 1e3).toFixed(1)} k frames/s, naive ${(median(mk(peer.windows, (w) => w.framesPerSec)) / 1e3).toFixed(1)} k frames/s; ` +
              `after the last window ours had ${lastO.slowClosed} slow / ${lastO.fastClosed} fast clients disconnected, naive ${lastP.slowClosed} / ${lastP.fastClosed}. ` +
              `Delivered depth counts conflated updates once (by design: state channels keep the latest value per stream).`,
          },
          'naive per-message ws broadcast',
          mk(peer.windows, (w) => w.msgsPerSec),
        ),
      );
      for (const [p, key] of [
        ['p50', 'p50'],
        ['p99', 'p99'],
      ] as const) {
        figures.push(
          withPeer(
            {
              group: GROUP,
              name: `message latency ${p} (publish → client receive, fast clients), ${label}`,
              unit: 'ms',
              runs: mk(ours.windows, (w) => w[key]),
              note: p === 'p50' ? `wall-clock ms across processes; includes the per-client minimum frame interval (gateway tickMs, default 2 ms) and client-process queueing` : undefined,
            },
            'naive',
            mk(peer.windows, (w) => w[key]),
            true,
          ),
        );
      }
      partial({ figures });
    }
  } finally {
    clients.stop();
  }
  return { figures };
}

main(import.meta.url, run);
