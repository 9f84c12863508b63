/**
 * Engine: L2 level updates per second on one core, pre-decoded and from JSON, beside ccxt pro's own
 * order-book classes applying the same deltas; memory per book.
 *
 * Every run starts from the same 1 200-level-per-side snapshot and applies the same ~1 M level
 * updates (bench/src/book-stream.ts). Ours and the peer alternate inside each repetition so machine
 * noise hits both alike. The final books are compared with a plain-Map replay of the stream before
 * anything is timed.
 */
import { DEFAULT_ENGINE_CONFIG, EngineCore, L2Book } from '@depthwatch/engine';
import { parseEvent, serializeEvent, type BookDelta, type Level } from '@depthwatch/schemas';
import ccxtLib from 'ccxt';
import { finalBook, makeBookStream } from './book-stream.ts';
import { gc, log, main, type BenchResult } from './common.ts';
import { figure, withPeer, type Figure } from './harness.ts';

const RUNS = Number(process.env['BENCH_ENGINE_RUNS'] ?? 5);
const TARGET = Number(process.env['BENCH_ENGINE_LEVELS'] ?? 500_000);
const GROUP = 'engine';

interface CcxtSide {
  storeArray(delta: number[]): void;
  length: number;
  [i: number]: number[];
}
interface CcxtBook {
  bids: CcxtSide;
  asks: CcxtSide;
}

function sameLevels(a: Level[], b: Level[], what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} levels, expected ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i][0] !== b[i][0] || a[i][1] !== b[i][1]) throw new Error(`${what}: level ${i} is ${a[i]}, expected ${b[i]}`);
  }
}

/**
 * ccxt pro's order book (ccxt/js/src/base/ws/OrderBook.js: sorted Float64Array price index + array of
 * [price, size] rows), reached through the public API exactly as ccxt pro's binance.watchOrderBook
 * creates it: `exchange.orderBook(snapshot)`.
 */
const ccxtExchange = new (ccxtLib as unknown as { pro: Record<string, new () => { orderBook(snapshot: unknown): CcxtBook }> }).pro['binance']();
const CcxtOrderBook = function (snapshot: unknown) {
  return ccxtExchange.orderBook(snapshot);
} as unknown as new (snapshot: unknown) => CcxtBook;

export async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const stream = makeBookStream({ targetLevels: TARGET });
  const { snapshot, deltas, levels, mix } = stream;
  log(`engine: stream of ${deltas.length} events, ${levels} level updates generated in ${(performance.now() - t0).toFixed(0)} ms`, mix);
  const expected = finalBook(stream);

  // ---- the contenders, each one full pass over the stream from the snapshot; returns level updates/s
  const ours = (): number => {
    const book = new L2Book('binance', 'BTC/USDT');
    book.applySnapshot(snapshot.bids, snapshot.asks, 0);
    const s = performance.now();
    for (let i = 0; i < deltas.length; i++) book.applyDelta(deltas[i].bids, deltas[i].asks);
    const dt = performance.now() - s;
    lastOurs = book;
    return levels / (dt / 1000);
  };
  let lastOurs: L2Book | null = null;

  const ccxt = (): number => {
    const book = new CcxtOrderBook({ bids: snapshot.bids, asks: snapshot.asks });
    const s = performance.now();
    for (let i = 0; i < deltas.length; i++) {
      const d = deltas[i];
      const b = d.bids;
      const a = d.asks;
      // ccxt pro's handleDelta: parseBidAsk builds a fresh [price, size] row per level, then storeArray.
      // (A fresh row is required anyway: ccxt keeps the row object and mutates it on later updates.)
      for (let j = 0; j < b.length; j++) book.bids.storeArray([b[j][0], b[j][1]]);
      for (let j = 0; j < a.length; j++) book.asks.storeArray([a[j][0], a[j][1]]);
    }
    const dt = performance.now() - s;
    lastCcxt = book;
    return levels / (dt / 1000);
  };
  let lastCcxt: CcxtBook | null = null;

  // Full engine core: book + bands + depth metrics every 100 ms of event time (one per event here) + rolling state.
  const core = (): number => {
    let published = 0;
    const c = new EngineCore({ ...DEFAULT_ENGINE_CONFIG }, { depth: () => void published++, alert: () => {} });
    c.onBook(snapshot);
    const s = performance.now();
    for (let i = 0; i < deltas.length; i++) c.onBook(deltas[i]);
    const dt = performance.now() - s;
    if (published < deltas.length / 2) throw new Error(`engine core published only ${published} depth updates`);
    return levels / (dt / 1000);
  };

  // ---- correctness: both books end where a plain Map replay ends
  ours();
  ccxt();
  const top = (side: CcxtSide): Level[] => Array.from({ length: side.length }, (_, i) => [side[i][0], side[i][1]] as Level);
  sameLevels(lastOurs!.topLevels('bid', 1e9), expected.bids, 'L2Book bids');
  sameLevels(lastOurs!.topLevels('ask', 1e9), expected.asks, 'L2Book asks');
  sameLevels(top(lastCcxt!.bids), expected.bids, 'ccxt bids');
  sameLevels(top(lastCcxt!.asks), expected.asks, 'ccxt asks');
  log('engine: final books match the reference replay (ours and ccxt)');

  const oursRuns: number[] = [];
  const ccxtRuns: number[] = [];
  const coreRuns: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    gc();
    const o = ours();
    gc();
    const c = ccxt();
    gc();
    const e = core();
    if (r === 0) continue; // warm-up
    oursRuns.push(o);
    ccxtRuns.push(c);
    coreRuns.push(e);
    log(`engine run ${r}: L2Book ${(o / 1e6).toFixed(2)} M/s, ccxt ${(c / 1e6).toFixed(2)} M/s, EngineCore ${(e / 1e6).toFixed(2)} M/s`);
  }

  // ---- from JSON off the bus: the strings KafkaBus carries (serializeEvent), parsed as KafkaBus does (parseEvent: JSON.parse + schema validation)
  const texts = deltas.map((d) => serializeEvent(d));
  const bytes = texts.reduce((a, t) => a + t.length, 0);
  const fromJson = (): number => {
    const book = new L2Book('binance', 'BTC/USDT');
    book.applySnapshot(snapshot.bids, snapshot.asks, 0);
    const allowed = ['book_delta'] as const;
    const s = performance.now();
    for (let i = 0; i < texts.length; i++) {
      const ev = parseEvent(texts[i], allowed) as BookDelta;
      book.applyDelta(ev.bids, ev.asks);
    }
    return levels / ((performance.now() - s) / 1000);
  };
  const fromJsonNoValidate = (): number => {
    const book = new L2Book('binance', 'BTC/USDT');
    book.applySnapshot(snapshot.bids, snapshot.asks, 0);
    const s = performance.now();
    for (let i = 0; i < texts.length; i++) {
      const ev = JSON.parse(texts[i]) as BookDelta;
      book.applyDelta(ev.bids, ev.asks);
    }
    return levels / ((performance.now() - s) / 1000);
  };
  let sink = 0;
  const parseOnly = (): number => {
    const s = performance.now();
    for (let i = 0; i < texts.length; i++) sink += (JSON.parse(texts[i]) as BookDelta).seq;
    return levels / ((performance.now() - s) / 1000);
  };
  const jsonRuns: number[] = [];
  const jsonNvRuns: number[] = [];
  const parseRuns: number[] = [];
  for (let r = 0; r < RUNS + 1; r++) {
    gc();
    const a = fromJson();
    gc();
    const b = fromJsonNoValidate();
    gc();
    const c = parseOnly();
    if (r === 0) continue;
    jsonRuns.push(a);
    jsonNvRuns.push(b);
    parseRuns.push(c);
    log(`engine JSON run ${r}: parseEvent+apply ${(a / 1e6).toFixed(2)} M/s, JSON.parse+apply ${(b / 1e6).toFixed(2)} M/s, JSON.parse only ${(c / 1e6).toFixed(2)} M/s`);
  }
  if (sink === 0) log('');

  // ---- memory per book (full 1 200-level sides, after the stream has been applied once)
  const memory = (make: () => unknown, n: number): number => {
    gc();
    gc();
    // Typed arrays keep their data outside the JS heap: count ArrayBuffer memory too.
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    const keep: unknown[] = [];
    for (let i = 0; i < n; i++) keep.push(make());
    gc();
    gc();
    const after = used();
    if (keep.length !== n) throw new Error('unreachable');
    return (after - before) / n;
  };
  const N_BOOKS = 200;
  const memOurs: number[] = [];
  const memCcxt: number[] = [];
  for (let r = 0; r < 3; r++) {
    memOurs.push(
      memory(() => {
        const b = new L2Book('binance', 'BTC/USDT');
        b.applySnapshot(expected.bids, expected.asks, 0);
        return b;
      }, N_BOOKS),
    );
    // ccxt keeps the row arrays it is given: hand it its own copies, as parseBidAsk would.
    memCcxt.push(memory(() => new CcxtOrderBook({ bids: expected.bids.map((l) => [l[0], l[1]]), asks: expected.asks.map((l) => [l[0], l[1]]) }), N_BOOKS));
  }
  const gcNote = (globalThis as { gc?: unknown }).gc ? '' : ' (run without --expose-gc: noisy)';

  const mixNote =
    `${deltas.length} events × ${mix.meanLevelsPerEvent.toFixed(0)} levels (${levels} updates) on a ${mix.bookLevelsPerSide}-level-per-side book; ` +
    `${((100 * mix.top10) / levels).toFixed(0)} % in the top 10 levels, ${((100 * mix.beyondTop100) / levels).toFixed(0)} % beyond level 100, ` +
    `${((100 * mix.deletes) / levels).toFixed(0)} % deletes, ${((100 * mix.inserts) / levels).toFixed(0)} % inserts, ${((100 * mix.eventsWithMidMove) / mix.events).toFixed(0)} % of events move the touch`;
  const figures: Figure[] = [
    withPeer(
      {
        group: GROUP,
        name: 'L2Book.applyDelta, 6 depth bands maintained, pre-decoded',
        unit: 'level updates/s',
        runs: oursRuns,
        bar: '≥ 5 M/s; ≥ 5× ccxt',
        note: `${mixNote}. Peer: ccxt pro's OrderBook (exchange.orderBook(), ccxt/js/src/base/ws/OrderBook.js, what watchOrderBook keeps) storeArray per level, no bands. Both final books verified equal to a Map replay.`,
      },
      'ccxt pro OrderBook.storeArray (no bands)',
      ccxtRuns,
    ),
    figure({
      group: GROUP,
      name: 'EngineCore.onBook (book + bands + depth metrics per 100 ms event + rolling state)',
      unit: 'level updates/s',
      runs: coreRuns,
      note: 'the whole engine path for md.book with a no-op output; one DepthMetrics computed per event since events are 100 ms apart (the default conflation interval)',
    }),
    {
      ...withPeer(
        {
          group: GROUP,
          name: 'from JSON off the bus: parseEvent (JSON.parse + schema validation) + applyDelta',
          unit: 'level updates/s',
          runs: jsonRuns,
          bar: '≥ 1.5 M/s',
          note: `the exact strings KafkaBus carries (serializeEvent), ${(bytes / deltas.length).toFixed(0)} bytes per event; ceiling = JSON.parse alone on the same strings`,
        },
        'JSON.parse-only ceiling',
        parseRuns,
      ),
    },
    withPeer({ group: GROUP, name: 'from JSON: JSON.parse + applyDelta (no validation)', unit: 'level updates/s', runs: jsonNvRuns }, 'JSON.parse-only ceiling', parseRuns),
    withPeer(
      {
        group: GROUP,
        name: 'memory per book (1 200 levels per side)',
        unit: 'bytes',
        runs: memOurs,
        note: `(heapUsed + arrayBuffers) delta over ${N_BOOKS} books${gcNote}; ratio = ccxt ÷ ours (> 1: we use less)`,
      },
      'ccxt pro OrderBook',
      memCcxt,
      true,
    ),
  ];
  return { figures };
}

main(import.meta.url, run);
