/**
 * Gateway load drill (run by `npm run drills`, not part of `npm test`; loopback only, bounded in
 * count and time). One in-process gateway (this process) with a publisher; two forked client
 * processes (this same file in `crowd` and `abuse` mode) so neither client load nor abuse shares
 * the gateway's event loop:
 *
 *   crowd : CONNS (default 10 000) concurrent connections, each subscribed to a slow trade stream
 *           (1/s), plus PROBES well-behaved clients on a fast stream (200 trades/s) that measure
 *           publish → receive latency. Every connection checks its cseq (no gaps allowed).
 *   abuse : connect/disconnect churn, oversized frames (message_too_large and > hard limit → 1009),
 *           subscription floods (rate limiting), invalid API keys (401), while the crowd is measured.
 *
 * Pass criteria: the gateway stays up and healthy; no well-behaved connection is closed or sees a
 * gap; probe latency p99 during abuse stays within a bound of the baseline; every refusal the abuser
 * saw is a documented error and shows up in depthwatch_gateway_refused_total{reason}.
 *
 *   npx tsx gateway/src/load.drill.ts [--conns 10000] [--json out.json] [--pass-slice-clients N]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { MemoryBus } from '@depthwatch/bus';
import { registry } from '@depthwatch/ops';
import type { Trade } from '@depthwatch/schemas';
import { startGateway } from './index.ts';
import { DEFAULT_GATEWAY_CONFIG } from './config.ts';

const SELF = fileURLToPath(import.meta.url);
const KEY = 'drill-key-0123456789';
const FAST = { venue: 'binance', symbol: 'BTC/USDT' } as const;
const SLOW = { venue: 'okx', symbol: 'ETH/USDT' } as const;

type Frame = { cseq: number; msgs: { type: string; ts?: number; code?: string }[] };

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// ====================================================================== client processes

interface CrowdStats {
  open: number;
  connectFailures: number;
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
  cseqGaps: number;
  dropped: number;
  slowReceived: number;
  latency: { n: number; p50: number; p99: number; max: number };
}

function connectOne(url: string, onFrame: (f: Frame) => void, onClose: (code: number) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000, headers: { 'x-api-key': KEY } });
    ws.on('message', (data) => onFrame(JSON.parse(data.toString()) as Frame));
    ws.once('open', () => resolve(ws));
    ws.once('error', (err) => reject(err));
    ws.once('close', (code) => onClose(code));
  });
}

async function crowdMode(): Promise<void> {
  const sockets: WebSocket[] = [];
  const s = { open: 0, connectFailures: 0, unexpectedCloses: 0, closeCodes: {} as Record<string, number>, cseqGaps: 0, dropped: 0, slowReceived: 0 };
  let lat: number[] = [];
  let closing = false;
  const open = async (url: string, n: number, probe: boolean) => {
    let next = 0;
    const worker = async () => {
      while (next < n) {
        next++;
        let expected = 1;
        try {
          const ws = await connectOne(
            url,
            (f) => {
              if (f.cseq !== expected) s.cseqGaps++;
              expected = f.cseq + f.msgs.length;
              const now = Date.now();
              for (const m of f.msgs) {
                if (m.type === 'trade') {
                  if (probe) lat.push(now - (m.ts ?? now));
                  else s.slowReceived++;
                } else if (m.type === 'dropped') s.dropped++;
              }
            },
            (code) => {
              s.open--;
              if (!closing) {
                s.unexpectedCloses++;
                s.closeCodes[code] = (s.closeCodes[code] ?? 0) + 1;
              }
            },
          );
          s.open++;
          const target = probe ? FAST : SLOW;
          ws.send(JSON.stringify({ op: 'subscribe', channels: ['trades'], venues: [target.venue], symbols: [target.symbol] }));
          sockets.push(ws);
        } catch {
          s.connectFailures++;
        }
      }
    };
    await Promise.all(Array.from({ length: 100 }, worker));
  };
  process.on('message', async (msg: { cmd: string; url?: string; n?: number; probes?: number }) => {
    if (msg.cmd === 'open') {
      const t0 = Date.now();
      await open(msg.url!, msg.probes!, true);
      await open(msg.url!, msg.n!, false);
      process.send!({ ok: true, ms: Date.now() - t0, open: s.open, failures: s.connectFailures });
    } else if (msg.cmd === 'stats') {
      const sorted = lat.sort((a, b) => a - b);
      const stats: CrowdStats = { ...s, latency: { n: sorted.length, p50: pct(sorted, 50), p99: pct(sorted, 99), max: sorted[sorted.length - 1] ?? NaN } };
      lat = [];
      process.send!(stats);
    } else if (msg.cmd === 'close') {
      closing = true;
      for (const ws of sockets) ws.terminate();
      process.send!({ ok: true });
    }
  });
  process.send!({ ready: true });
}

interface AbuseStats {
  churnOpened: number;
  churnFailed: number;
  oversizedErrors: number;
  hardCloses: Record<string, number>;
  floodRequests: number;
  floodAnswers: Record<string, number>;
  floodClosed: number;
  badKeyStatus: Record<string, number>;
  errorCodes: Record<string, number>;
  undocumented: string[];
  /** Abuse tasks that did not finish within the phase deadline (their partial counts are included). */
  timedOut: string[];
}

const DOCUMENTED = new Set(['bad_json', 'bad_request', 'unknown_op', 'unknown_channel', 'bad_filter', 'message_too_large', 'too_many_subscriptions', 'rate_limited', 'unknown_subscription', 'unauthorized']);

async function abuseMode(): Promise<void> {
  const a: AbuseStats = { churnOpened: 0, churnFailed: 0, oversizedErrors: 0, hardCloses: {}, floodRequests: 0, floodAnswers: {}, floodClosed: 0, badKeyStatus: {}, errorCodes: {}, undocumented: [], timedOut: [] };
  const noteError = (code: string | undefined) => {
    const c = String(code);
    a.errorCodes[c] = (a.errorCodes[c] ?? 0) + 1;
    if (!DOCUMENTED.has(c) && a.undocumented.length < 10) a.undocumented.push(c);
  };
  const client = (url: string, headers: Record<string, string> = { 'x-api-key': KEY }) =>
    new Promise<{ ws: WebSocket; frames: Frame[]; closed: Promise<number> }>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000, headers });
      const frames: Frame[] = [];
      let onClose: (c: number) => void = () => {};
      const closed = new Promise<number>((r) => (onClose = r));
      ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as Frame));
      ws.once('close', (c) => onClose(c));
      ws.once('open', () => resolve({ ws, frames, closed }));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
      });
    });
  const errorsIn = (frames: Frame[]) => frames.flatMap((f) => f.msgs).filter((m) => m.type === 'error');

  const churn = async (url: string, total: number, perSec: number) => {
    const batch = Math.max(1, Math.round(perSec / 10));
    for (let done = 0; done < total; done += batch) {
      const t0 = Date.now();
      await Promise.all(
        Array.from({ length: Math.min(batch, total - done) }, async (_, i) => {
          try {
            const c = await client(url);
            a.churnOpened++;
            if (i % 2) c.ws.send('{"op":"subscribe","channels":["trades","depth","book"]}');
            await sleep(20 + (i % 5) * 10);
            if (i % 3) c.ws.close();
            else c.ws.terminate();
          } catch {
            a.churnFailed++;
          }
        }),
      );
      await sleep(Math.max(0, 100 - (Date.now() - t0)));
    }
  };

  const oversized = async (url: string, n: number) => {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        try {
          const c = await client(url);
          if (i % 2 === 0) {
            c.ws.send('{"op":"ping","pad":"' + 'x'.repeat(20_000) + '"}'); // over maxMessageBytes: error, stays open
            for (let k = 0; k < 100 && errorsIn(c.frames).length === 0; k++) await sleep(20);
            const errs = errorsIn(c.frames);
            errs.forEach((e) => noteError(e.code));
            if (errs.some((e) => e.code === 'message_too_large')) a.oversizedErrors++;
            c.ws.close();
          } else {
            c.ws.send(Buffer.alloc(2 * 1024 * 1024, 120)); // over hardMaxMessageBytes: closed with 1009
            const code = await Promise.race([c.closed, sleep(5000).then(() => -1)]);
            a.hardCloses[code] = (a.hardCloses[code] ?? 0) + 1;
          }
        } catch {
          a.hardCloses.connect_failed = (a.hardCloses.connect_failed ?? 0) + 1;
        }
      }),
    );
  };

  const flood = async (url: string, n: number, requests: number) => {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        try {
          const c = await client(url);
          for (let k = 0; k < requests; k++) {
            c.ws.send(k % 3 === 0 ? '{"op":"ping"}' : JSON.stringify({ op: 'subscribe', channels: ['trades', 'depth'], symbols: [`X${(i * requests + k) % 500}/USDT`] }));
            a.floodRequests++;
          }
          await sleep(1500);
          for (const m of c.frames.flatMap((f) => f.msgs)) {
            if (m.type === 'hello') continue;
            a.floodAnswers[m.type] = (a.floodAnswers[m.type] ?? 0) + 1;
            if (m.type === 'error') noteError(m.code);
          }
          const open = c.ws.readyState === WebSocket.OPEN;
          if (!open) a.floodClosed++;
          c.ws.close();
        } catch {
          a.floodClosed++;
        }
      }),
    );
  };

  const badKeys = async (url: string, n: number) => {
    for (let i = 0; i < n; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, async (_, j) => {
          const headers: Record<string, string> = [{ 'x-api-key': 'wrong-key-xxxxxxxx' }, { authorization: 'Bearer ' + KEY.slice(0, -1) + 'X' }, {}, { 'x-api-key': KEY + KEY }][(i + j) % 4];
          try {
            const c = await client(url, headers);
            a.badKeyStatus['101'] = (a.badKeyStatus['101'] ?? 0) + 1; // must not happen
            c.ws.terminate();
          } catch (err) {
            const status = String((err as { status?: number }).status ?? 'error');
            a.badKeyStatus[status] = (a.badKeyStatus[status] ?? 0) + 1;
            const body = (err as { body?: string }).body;
            if (body) noteError((JSON.parse(body) as { code?: string }).code);
          }
        }),
      );
    }
  };

  process.on('message', async (msg: { cmd: string; url: string; churn: number; churnPerSec: number; oversized: number; floodClients: number; floodRequests: number; badKeys: number; deadlineMs: number }) => {
    if (msg.cmd !== 'abuse') return;
    // Each task is bounded: a starved gateway must not turn the drill into a hang.
    const bounded = (name: string, p: Promise<void>) => Promise.race([p, sleep(msg.deadlineMs).then(() => void a.timedOut.push(name))]);
    await Promise.all([
      bounded('churn', churn(msg.url, msg.churn, msg.churnPerSec)),
      bounded('oversized', oversized(msg.url, msg.oversized)),
      bounded('flood', flood(msg.url, msg.floodClients, msg.floodRequests)),
      bounded('badKeys', badKeys(msg.url, msg.badKeys)),
    ]);
    process.send!(a);
  });
  process.send!({ ready: true });
}

// ====================================================================== orchestrator

function forkMode(mode: 'crowd' | 'abuse'): Promise<ChildProcess> {
  const child = fork(SELF, [`--mode`, mode], { execArgv: ['--import', 'tsx', '--max-old-space-size=3072'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`${mode} process exited with ${code}`)));
  });
}

function call<T>(child: ChildProcess, msg: object, timeoutMs = 300_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer to ${JSON.stringify(msg).slice(0, 80)} in ${timeoutMs} ms`)), timeoutMs);
    child.once('message', (r: T) => {
      clearTimeout(t);
      resolve(r);
    });
    child.send(msg);
  });
}

async function refusedByReason(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('depthwatch_gateway_refused_total')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.reason), v.value]));
}

export interface LoadDrillResult {
  conns: number;
  probes: number;
  connectMs: number;
  connected: number;
  baseline: CrowdStats;
  underAbuse: CrowdStats;
  after: CrowdStats;
  abuse: AbuseStats;
  refused: Record<string, number>;
  gateway: { healthz: number; connectionsAtEnd: number; eventLoopP99Ms: number; eventLoopMaxMs: number; rssMB: number };
  failures: string[];
  seconds: number;
}

async function orchestrate(): Promise<void> {
  const t0 = Date.now();
  const conns = Number(arg('conns', '10000'));
  const probes = Number(arg('probes', '100'));
  const out = arg('json', '');
  const bus = new MemoryBus();
  const gw = await startGateway({
    bus,
    port: 0,
    // --pass-slice-clients 1000000 gives unsliced passes, for before/after comparisons.
    config: { passSliceClients: Number(arg('pass-slice-clients', String(DEFAULT_GATEWAY_CONFIG.passSliceClients))), maxConnections: conns + probes + 2000, apiKeys: [{ name: 'drill', key: KEY, maxConnections: conns + probes + 2000 }], keepaliveMs: 60_000 },
  });
  const wsUrl = gw.url.replace(/^http/, 'ws') + '/v1/stream';
  const loop = monitorEventLoopDelay({ resolution: 5 });
  let fastSeq = 0;
  let slowSeq = 0;
  const trade = (t: { venue: 'binance' | 'okx'; symbol: string }, seq: number, ts = Date.now()): Trade => ({ type: 'trade', venue: t.venue, symbol: t.symbol, ts, recvTs: ts, seq, id: `d${seq}`, price: 100, amount: 1, side: 'buy', liquidation: false });
  // The fast stream runs on a fixed schedule (one trade per 5 ms from fastStart), each stamped with
  // its scheduled time; a timer that fires late publishes everything due. Probe latency therefore
  // includes any time the gateway's event loop was blocked (no coordinated omission: a blocked loop
  // delays the publisher as well, which would otherwise hide the block from the probes).
  const fastStart = Date.now();
  const fastTimer = setInterval(() => {
    const due = Math.floor((Date.now() - fastStart) / 5);
    while (fastSeq < due) {
      fastSeq++;
      bus.publish('md.trade', `${FAST.venue}:${FAST.symbol}`, trade(FAST, fastSeq, fastStart + fastSeq * 5));
    }
  }, 5);
  const slowTimer = setInterval(() => bus.publish('md.trade', `${SLOW.venue}:${SLOW.symbol}`, trade(SLOW, ++slowSeq)), 1000);
  // Probes get a process of their own: in the crowd's process they would wait behind the 10 k frames
  // of each slow-stream trade being parsed, and measure that client instead of the gateway.
  const prober = await forkMode('crowd');
  const crowdProc = await forkMode('crowd');
  const crowd = {
    async stats(): Promise<CrowdStats> {
      const [p, c] = await Promise.all([call<CrowdStats>(prober, { cmd: 'stats' }), call<CrowdStats>(crowdProc, { cmd: 'stats' })]);
      const closeCodes = { ...c.closeCodes };
      for (const [k, v] of Object.entries(p.closeCodes)) closeCodes[k] = (closeCodes[k] ?? 0) + v;
      return {
        open: p.open + c.open,
        connectFailures: p.connectFailures + c.connectFailures,
        unexpectedCloses: p.unexpectedCloses + c.unexpectedCloses,
        closeCodes,
        cseqGaps: p.cseqGaps + c.cseqGaps,
        dropped: p.dropped + c.dropped,
        slowReceived: c.slowReceived,
        latency: p.latency,
      };
    },
  };
  const abuser = await forkMode('abuse');
  const failures: string[] = [];
  try {
    console.log(`load drill: gateway ${gw.url}; opening ${conns} + ${probes} probe connections …`);
    const connectStart = Date.now();
    const probed = await call<{ ms: number; open: number; failures: number }>(prober, { cmd: 'open', url: wsUrl, n: 0, probes });
    const crowded = await call<{ ms: number; open: number; failures: number }>(crowdProc, { cmd: 'open', url: wsUrl, n: conns, probes: 0 });
    const opened = { ms: Date.now() - connectStart, open: probed.open + crowded.open, failures: probed.failures + crowded.failures };
    console.log(`  connected ${opened.open} in ${opened.ms} ms (${opened.failures} failures)`);
    if (opened.open < conns + probes) failures.push(`only ${opened.open} of ${conns + probes} connections opened`);
    await sleep(2000);
    await crowd.stats(); // discard the ramp
    loop.enable();
    await sleep(8000);
    const baseline = await crowd.stats();
    console.log(`  baseline: probe latency p50 ${baseline.latency.p50} ms, p99 ${baseline.latency.p99} ms (n=${baseline.latency.n})`);
    const refusedBefore = await refusedByReason();
    console.log('  abuse: churn, oversized frames, subscription floods, invalid API keys …');
    const abuse = await call<AbuseStats>(abuser, { cmd: 'abuse', url: wsUrl, churn: 2000, churnPerSec: 200, oversized: 100, floodClients: 100, floodRequests: 300, badKeys: 1000, deadlineMs: 150_000 });
    const underAbuse = await crowd.stats();
    console.log(`  under abuse: probe latency p50 ${underAbuse.latency.p50} ms, p99 ${underAbuse.latency.p99} ms (n=${underAbuse.latency.n})`);
    await sleep(3000);
    const after = await crowd.stats();
    const refusedAfter = await refusedByReason();
    const refused: Record<string, number> = {};
    for (const [k, v] of Object.entries(refusedAfter)) if (v - (refusedBefore[k] ?? 0) > 0) refused[k] = v - (refusedBefore[k] ?? 0);
    const healthz = (await fetch(`${gw.url}/healthz`)).status;
    const connectionsAtEnd = gw.clientStats().length;
    loop.disable();

    // ---- verdicts
    if (healthz !== 200) failures.push(`/healthz ${healthz}`);
    if (after.open !== conns + probes) failures.push(`${conns + probes - after.open} well-behaved connections lost`);
    if (after.unexpectedCloses > 0) failures.push(`well-behaved connections closed: ${JSON.stringify(after.closeCodes)}`);
    if (after.cseqGaps > 0) failures.push(`${after.cseqGaps} cseq gaps on well-behaved connections`);
    if (underAbuse.latency.n === 0) failures.push('probes received nothing under abuse');
    if (underAbuse.latency.p99 > Math.max(250, baseline.latency.p99 * 10)) failures.push(`probe p99 ${underAbuse.latency.p99} ms under abuse vs ${baseline.latency.p99} ms baseline`);
    if (abuse.undocumented.length) failures.push(`undocumented error codes: ${abuse.undocumented.join(', ')}`);
    if ((abuse.badKeyStatus['101'] ?? 0) > 0) failures.push(`${abuse.badKeyStatus['101']} connections accepted with a bad key`);
    if ((refused.unauthorized ?? 0) !== (abuse.badKeyStatus['401'] ?? 0)) failures.push(`401s seen ${abuse.badKeyStatus['401']} vs refused{unauthorized} ${refused.unauthorized}`);
    if ((refused.message_too_large ?? 0) < abuse.oversizedErrors) failures.push('message_too_large answers not all counted');
    if ((refused.frame_too_large ?? 0) < (abuse.hardCloses['1009'] ?? 0)) failures.push('1009 closes not all counted as frame_too_large');
    if ((abuse.floodAnswers.error ?? 0) > 0 && !(refused.rate_limited > 0)) failures.push('flood errors without rate_limited counts');
    if (abuse.timedOut.length) failures.push(`abuse tasks not finished within 150 s: ${abuse.timedOut.join(', ')}`);
    if (abuse.floodClosed > 0) failures.push(`${abuse.floodClosed} flooding connections were closed (should only be throttled)`);

    const result: LoadDrillResult = {
      conns,
      probes,
      connectMs: opened.ms,
      connected: opened.open,
      baseline,
      underAbuse,
      after,
      abuse,
      refused,
      gateway: { healthz, connectionsAtEnd, eventLoopP99Ms: Math.round(loop.percentile(99) / 1e4) / 100, eventLoopMaxMs: Math.round(loop.max / 1e4) / 100, rssMB: Math.round(process.memoryUsage().rss / 1048576) },
      failures,
      seconds: Math.round((Date.now() - t0) / 1000),
    };
    console.log(`  after: ${after.open} open, ${after.unexpectedCloses} unexpected closes, ${after.cseqGaps} cseq gaps, slow-stream trades received ${after.slowReceived}`);
    console.log(`  abuse: ${JSON.stringify(abuse)}`);
    console.log(`  refused_total deltas: ${JSON.stringify(refused)}`);
    console.log(`  gateway: ${JSON.stringify(result.gateway)}`);
    console.log(failures.length ? `LOAD DRILL FAILED:\n  - ${failures.join('\n  - ')}` : `load drill passed in ${result.seconds} s`);
    if (out) writeFileSync(out, JSON.stringify(result, null, 2));
    process.exitCode = failures.length ? 1 : 0;
  } finally {
    clearInterval(fastTimer);
    clearInterval(slowTimer);
    await Promise.all([prober, crowdProc].map((c) => call(c, { cmd: 'close' }, 30_000).catch(() => {})));
    prober.kill();
    crowdProc.kill();
    abuser.kill();
    await gw.close();
  }
}

const mode = arg('mode', 'orchestrate');
if (mode === 'crowd') await crowdMode();
else if (mode === 'abuse') await abuseMode();
else await orchestrate();
