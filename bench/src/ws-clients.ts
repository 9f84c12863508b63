/**
 * Many real `ws` clients in one process (forked by gateway.bench.ts / e2e.bench.ts so the clients do
 * not share the server's core). Driven over IPC:
 *   {cmd:'connect', url, n, slowFraction, subscribe?}  → {ok, connected, ms}
 *   {cmd:'window', ms}                                  → {stats}
 *   {cmd:'disconnect'}                                  → {ok}
 * Counting is cheap on purpose (the client process must not be the bottleneck): messages are
 * counted by scanning each frame for `{"type":"`, and latency is read from each message's `"ts":`
 * (sender wall-clock ms) on one client in `latencyEvery`. Slow clients stop reading their socket
 * 900 ms out of every 1 000 ms.
 */
import { WebSocket } from 'ws';

interface Client {
  ws: WebSocket;
  slow: boolean;
  sampled: boolean;
  msgs: number;
  frames: number;
  closedCode: number | null;
}

const TYPE = Buffer.from('{"type":"');
const TS = Buffer.from('"ts":');
let clients: Client[] = [];
let lat = new Float64Array(2_000_000);
let latN = 0;
let slowTimer: NodeJS.Timeout | null = null;

function onFrame(c: Client, data: Buffer): void {
  c.frames++;
  let n = 0;
  let i = data.indexOf(TYPE);
  while (i >= 0) {
    n++;
    i = data.indexOf(TYPE, i + 9);
  }
  c.msgs += n;
  if (!c.sampled) return;
  const now = Date.now();
  let j = data.indexOf(TS);
  while (j >= 0) {
    let k = j + 5;
    let ts = 0;
    for (; k < data.length; k++) {
      const ch = data[k];
      if (ch < 48 || ch > 57) break;
      ts = ts * 10 + (ch - 48);
    }
    if (latN < lat.length) lat[latN++] = now - ts;
    j = data.indexOf(TS, k);
  }
}

function connectOne(url: string, slow: boolean, sampled: boolean, subscribe: string | undefined): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30_000 });
    const c: Client = { ws, slow, sampled, msgs: 0, frames: 0, closedCode: null };
    ws.on('message', (data) => onFrame(c, data as Buffer));
    ws.once('open', () => {
      if (subscribe) ws.send(subscribe);
      resolve(c);
    });
    ws.on('close', (code) => {
      c.closedCode = code;
    });
    ws.once('error', (err) => reject(err));
  });
}

async function connect(url: string, n: number, slowFraction: number, latencyEvery: number, subscribe?: string): Promise<number> {
  const t0 = performance.now();
  const slowEvery = slowFraction > 0 ? Math.round(1 / slowFraction) : 0;
  const BATCH = 250;
  for (let i = 0; i < n; i += BATCH) {
    const batch: Promise<Client>[] = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const slow = slowEvery > 0 && j % slowEvery === slowEvery - 1;
      batch.push(connectOne(url, slow, !slow && j % latencyEvery === 0, subscribe));
    }
    clients.push(...(await Promise.all(batch)));
  }
  // Slow clients: read 100 ms out of every second.
  const sockets = () => clients.filter((c) => c.slow).map((c) => (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket);
  let phase = 0;
  slowTimer = setInterval(() => {
    phase = (phase + 1) % 10;
    for (const s of sockets()) (phase === 0 ? s.resume() : s.pause());
  }, 100);
  return performance.now() - t0;
}

async function window(ms: number) {
  for (const c of clients) {
    c.msgs = 0;
    c.frames = 0;
  }
  latN = 0;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const dt = (performance.now() - t0) / 1000;
  let msgs = 0;
  let frames = 0;
  let fastMsgs = 0;
  let slowMsgs = 0;
  let open = 0;
  let slowClosed = 0;
  let fastClosed = 0;
  for (const c of clients) {
    msgs += c.msgs;
    frames += c.frames;
    if (c.slow) slowMsgs += c.msgs;
    else fastMsgs += c.msgs;
    if (c.ws.readyState === WebSocket.OPEN) open++;
    else if (c.slow) slowClosed++;
    else fastClosed++;
  }
  const l = lat.subarray(0, latN).sort();
  const pct = (p: number) => (l.length ? l[Math.min(l.length - 1, Math.max(0, Math.ceil((p / 100) * l.length) - 1))] : NaN);
  return {
    seconds: dt,
    msgsPerSec: msgs / dt,
    framesPerSec: frames / dt,
    fastMsgsPerSec: fastMsgs / dt,
    slowMsgsPerSec: slowMsgs / dt,
    open,
    slowClosed,
    fastClosed,
    latencySamples: l.length,
    p50: pct(50),
    p99: pct(99),
    p999: pct(99.9),
    max: l.length ? l[l.length - 1] : NaN,
  };
}

async function disconnect(): Promise<void> {
  if (slowTimer) clearInterval(slowTimer);
  slowTimer = null;
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.terminate();
        }),
    ),
  );
  clients = [];
  lat = new Float64Array(lat.length);
}

process.on('message', (msg: { cmd: string; url?: string; n?: number; slowFraction?: number; latencyEvery?: number; subscribe?: string; ms?: number }) => {
  const reply = (r: unknown) => process.send!(r);
  const fail = (err: unknown) => reply({ error: String((err as Error)?.stack ?? err) });
  if (msg.cmd === 'connect') connect(msg.url!, msg.n!, msg.slowFraction ?? 0, msg.latencyEvery ?? 10, msg.subscribe).then((ms) => reply({ ok: true, connected: clients.length, ms }), fail);
  else if (msg.cmd === 'window') window(msg.ms!).then((stats) => reply({ stats }), fail);
  else if (msg.cmd === 'disconnect') disconnect().then(() => reply({ ok: true }), fail);
  else if (msg.cmd === 'exit') process.exit(0);
});
process.send!({ ready: true });
