/**
 * End-to-end latency: from the simulated venue's socket write to a gateway subscriber's receive,
 * at 10 k and 100 k level updates/s, on the in-memory bus and through Kafka.
 *
 * This process runs the simulated Binance spot venue (its real front end: REST snapshot, WebSocket
 * depthUpdate frames with U/u ids) and the subscriber; the pipeline (collector → bus → engine →
 * gateway, defaults of `npm start`) runs in a child process (e2e-pipeline.ts).
 *
 * The simulated market's own timer cannot produce 100 k updates/s (its per-step bookkeeping costs
 * milliseconds), so the benchmark drives the venue front end directly: it emits the market's `step`
 * event itself with the level changes of the recorded-like stream of book-stream.ts (the same
 * stream the engine benchmark uses), keeping the instrument's book in step so REST snapshots stay
 * consistent. Each step's `E` is wall-clock ms; one step per ms at most, so `E` identifies a step.
 *
 * Side channel (bench only): `WebSocket.prototype.send` is wrapped in this process to note the
 * performance.now() of the first socket write of each `E`. The subscriber (same process, same
 * clock) takes performance.now() on receipt of each `depth` (engine output) and `book` (gateway
 * book) message and looks up the write time of the message's `ts` (= the E of the last venue event
 * applied). Sub-millisecond resolution, no cross-process clock.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startSimulatedVenues } from '@depthwatch/ingest';
import type { Instrument, InstrumentStep } from '@depthwatch/ingest/sim/market';
import { ensureKafka } from '../../infra/local/ensure.ts';
import { makeBookStream } from './book-stream.ts';
import { log, main, partial, sleep, waitFor, type BenchResult } from './common.ts';
import { figure, median, percentile, unavailable, type Figure } from './harness.ts';

const GROUP = 'e2e';
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
const WINDOWS = Number(process.env['BENCH_E2E_WINDOWS'] ?? 3);
const WINDOW_MS = Number(process.env['BENCH_E2E_WINDOW_MS'] ?? 4000);
const RATES = [10_000, 100_000];

// ---- side channel: first socket write time per E
const writes = new Map<number, number>();
const origSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (this: WebSocket, data: unknown, ...rest: unknown[]) {
  if (typeof data === 'string' && data.startsWith('{"stream":')) {
    const i = data.indexOf('"E":');
    if (i > 0) {
      let e = 0;
      for (let k = i + 4; k < data.length; k++) {
        const c = data.charCodeAt(k);
        if (c < 48 || c > 57) break;
        e = e * 10 + (c - 48);
      }
      if (!writes.has(e)) writes.set(e, performance.now());
    }
  }
  return (origSend as (...a: unknown[]) => void).call(this, data, ...rest);
} as typeof WebSocket.prototype.send;

type Change = [Map<number, number>, Map<number, number>];

/** The stream as per-event tick/lot maps for one instrument. */
function eventsFor(inst: Instrument, stream: ReturnType<typeof makeBookStream>): { snapshot: Change; events: { ch: Change; n: number }[] } {
  const { tick, lot } = inst.spec;
  const conv = (levels: [number, number][]) => {
    const m = new Map<number, number>();
    for (const [p, s] of levels) m.set(Math.round(p / tick), Math.round(s / lot));
    return m;
  };
  return {
    snapshot: [conv(stream.snapshot.bids), conv(stream.snapshot.asks)],
    events: stream.deltas.map((d) => ({ ch: [conv(d.bids), conv(d.asks)] as Change, n: d.bids.length + d.asks.length })),
  };
}

interface Driver {
  setRate(levelsPerSec: number): void;
  sent(): number;
  stop(): void;
}

function startDriver(insts: Instrument[], streams: ReturnType<typeof eventsFor>[], emit: (steps: InstrumentStep[]) => void): Driver {
  let rate = 0;
  let t0 = performance.now();
  let sentAtRate = 0;
  let total = 0;
  let lastE = 0;
  const pos = insts.map(() => 0);
  let rr = 0;
  const timer = setInterval(() => {
    if (rate === 0) return;
    const E = Date.now();
    if (E === lastE) return; // at most one step per ms: E identifies the step
    lastE = E;
    let due = Math.floor(((performance.now() - t0) / 1000) * rate) - sentAtRate;
    if (due > rate / 20) {
      sentAtRate += due - rate / 20; // never more than 50 ms worth at once
      due = rate / 20;
    }
    if (due <= 0) return;
    const acc = insts.map(() => [new Map<number, number>(), new Map<number, number>()] as Change);
    while (due > 0) {
      const i = rr++ % insts.length;
      const ev = streams[i].events[pos[i]++ % streams[i].events.length];
      for (const s of [0, 1] as const) for (const [t, l] of ev.ch[s]) acc[i][s].set(t, l);
      due -= ev.n;
      sentAtRate += ev.n;
      total += ev.n;
    }
    const steps: InstrumentStep[] = [];
    for (let i = 0; i < insts.length; i++) {
      const [b, a] = acc[i];
      if (b.size + a.size === 0) continue;
      const inst = insts[i];
      // Keep the venue's own book in step (its REST snapshots must match the deltas).
      for (const [t, l] of b) (l === 0 ? inst.bids.delete(t) : inst.bids.set(t, l));
      for (const [t, l] of a) (l === 0 ? inst.asks.delete(t) : inst.asks.set(t, l));
      steps.push({ inst, ts: E, bids: b, asks: a, trades: [], liquidations: [], ticker: null });
    }
    emit(steps);
  }, 1);
  return {
    setRate(r) {
      rate = r;
      t0 = performance.now();
      sentAtRate = 0;
    },
    sent: () => total,
    stop: () => clearInterval(timer),
  };
}

interface Pipeline {
  gatewayUrl: string;
  stop(): Promise<void>;
}

async function startPipeline(cfg: object): Promise<Pipeline> {
  const child = fork(fileURLToPath(new URL('./e2e-pipeline.ts', import.meta.url)), [JSON.stringify(cfg)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const gatewayUrl = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('pipeline did not start within 90 s')), 90_000);
    child.once('message', (m: { gatewayUrl: string }) => {
      clearTimeout(t);
      resolve(m.gatewayUrl);
    });
    child.once('exit', (code) => reject(new Error(`pipeline exited with ${code}`)));
  });
  return {
    gatewayUrl,
    async stop() {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.send({ cmd: 'stop' });
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

class Subscriber {
  lat: number[] = [];
  received = 0;
  missing = 0;
  private constructor(readonly ws: WebSocket) {}
  static async connect(url: string): Promise<Subscriber> {
    const ws = new WebSocket(url.replace('http', 'ws') + '/v1/stream', { perMessageDeflate: false });
    const s = new Subscriber(ws);
    ws.on('message', (data) => {
      const now = performance.now();
      const frame = JSON.parse(String(data)) as { msgs: { type: string; ts?: number }[] };
      for (const m of frame.msgs) {
        if ((m.type !== 'depth' && m.type !== 'book') || m.ts === undefined) continue;
        s.received++;
        const w = writes.get(m.ts);
        if (w === undefined) s.missing++;
        else s.lat.push(now - w);
      }
    });
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    ws.send(JSON.stringify({ op: 'subscribe', channels: ['depth', 'book'], venues: ['binance'], depth: 10 }));
    return s;
  }
  close(): void {
    this.ws.terminate();
  }
}

interface WindowResult {
  p50: number;
  p99: number;
  p999: number;
  samples: number;
  achieved: number;
}

export async function run(): Promise<BenchResult> {
  const figures: Figure[] = [];
  const sim = await startSimulatedVenues({ venues: ['binance'], symbols: { binance: SYMBOLS }, paused: true });
  sim.market.stop();
  const insts = SYMBOLS.map((s) => sim.market.instrument('binance', s));
  const stream = makeBookStream({ targetLevels: 400_000 });
  const streams = insts.map((inst) => eventsFor(inst, stream));
  insts.forEach((inst, i) => {
    inst.bids.clear();
    inst.asks.clear();
    for (const [t, l] of streams[i].snapshot[0]) inst.bids.set(t, l);
    for (const [t, l] of streams[i].snapshot[1]) inst.asks.set(t, l);
    inst.bestBid = Math.max(...inst.bids.keys());
    inst.bestAsk = Math.min(...inst.asks.keys());
  });
  const driver = startDriver(insts, streams, (steps) => sim.market.emit('step', steps));
  const prune = setInterval(() => {
    const cut = Date.now() - 60_000;
    for (const e of writes.keys()) {
      if (e < cut) writes.delete(e);
      else break;
    }
  }, 5000);
  const { endpoints } = sim;
  const ep = endpoints.binance!;

  const measureAt = async (label: string, busLabel: string, pipeCfg: object, rates: number[], bar: (rate: number) => string | undefined, note: string) => {
    driver.setRate(2000);
    const pipe = await startPipeline({ ...pipeCfg, symbols: SYMBOLS, restUrl: ep.restUrl, wsUrl: ep.wsUrl });
    let sub: Subscriber | null = null;
    try {
      sub = await Subscriber.connect(pipe.gatewayUrl);
      const s = sub;
      await waitFor(`${label}: depth and book messages at the subscriber`, () => s.received > 20, 60_000);
      for (const rate of rates) {
        driver.setRate(rate);
        await sleep(1500); // warm-up at this rate
        const res: WindowResult[] = [];
        for (let w = 0; w < WINDOWS; w++) {
          s.lat = [];
          const sent0 = driver.sent();
          const t0 = performance.now();
          await sleep(WINDOW_MS);
          const achieved = (driver.sent() - sent0) / ((performance.now() - t0) / 1000);
          const l = s.lat.sort((a, b) => a - b);
          res.push({ p50: percentile(l, 50), p99: percentile(l, 99), p999: percentile(l, 99.9), samples: l.length, achieved });
          log(`e2e ${label} @ ${rate / 1000} k/s window ${w + 1}: p50 ${res[w].p50.toFixed(2)} p99 ${res[w].p99.toFixed(2)} p99.9 ${res[w].p999.toFixed(2)} ms, ${l.length} samples, venue wrote ${(achieved / 1000).toFixed(1)} k levels/s`);
        }
        const k = `${rate / 1000} k level updates/s, ${busLabel}`;
        if (res.every((r) => r.samples === 0)) {
          figures.push(unavailable(GROUP, `latency p99, ${k}`, 'ms', `no depth/book message reached the subscriber during the ${WINDOWS} windows (the pipeline fell behind the venue)`, bar(rate)));
          continue;
        }
        const ach = median(res.map((r) => r.achieved));
        const samples = res.map((r) => r.samples).join('/');
        const empty = res.filter((r) => r.samples === 0).length;
        res.splice(0, res.length, ...res.filter((r) => r.samples > 0));
        const n =
          `${note}; venue actually wrote ${(ach / 1000).toFixed(1)} k levels/s; ${samples} latency samples per window (depth + book messages)` +
          (empty ? `; ${empty} of ${WINDOWS} windows received NO message (pipeline behind the venue): figures are from the other windows only` : '');
        figures.push(figure({ group: GROUP, name: `latency p50, ${k}`, unit: 'ms', runs: res.map((r) => r.p50), note: n }));
        figures.push(figure({ group: GROUP, name: `latency p99, ${k}`, unit: 'ms', runs: res.map((r) => r.p99), bar: bar(rate) }));
        figures.push(figure({ group: GROUP, name: `latency p99.9, ${k}`, unit: 'ms', runs: res.map((r) => r.p999) }));
      }
    } finally {
      driver.setRate(0);
      sub?.close();
      await pipe.stop();
      partial({ figures });
    }
  };

  try {
    const memNote = 'socket write at the simulated venue → ws receive at a gateway subscriber; engine depthIntervalMs 100 and gateway tickMs 2 (defaults: flush on the next event-loop turn, at least 2 ms apart per client)';
    await measureAt('memory', 'memory bus', { bus: 'memory' }, RATES, (r) => (r === 100_000 ? '< 5 ms' : undefined), memNote);
    await measureAt('memory tick 1 ms', 'memory bus, gateway tickMs 1', { bus: 'memory', tickMs: 1 }, [100_000], () => undefined, 'as above but gateway tickMs 1 (minimum frame interval per client 1 ms instead of 2 ms)');
    let brokers: string | null = null;
    try {
      brokers = await ensureKafka();
    } catch (err) {
      for (const r of RATES) figures.push(unavailable(GROUP, `latency p99, ${r / 1000} k level updates/s, Kafka`, 'ms', `Kafka: ${(err as Error).message.split('\n')[0]}`));
    }
    if (brokers) {
      try {
        await measureAt('kafka', 'Kafka', { bus: 'kafka', brokers, topicPrefix: `bench${Date.now()}.` }, RATES, (r) => (r === 100_000 ? '< 30 ms' : undefined), `${memNote}; KafkaBus (kafkajs, local broker) between collector and engine/gateway`);
      } catch (err) {
        for (const r of RATES) figures.push(unavailable(GROUP, `latency p99, ${r / 1000} k level updates/s, Kafka`, 'ms', (err as Error).message.split('\n')[0]));
      }
    }
  } finally {
    clearInterval(prune);
    driver.stop();
    await sim.close();
  }
  return { figures };
}

main(import.meta.url, run);
