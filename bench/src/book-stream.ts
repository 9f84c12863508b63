/**
 * A recorded-like L2 delta stream for the engine benchmarks (deterministic for a seed).
 *
 * Shape, modelled on Binance BTCUSDT depth@100ms: 1 200 levels per side on a 0.1 tick around
 * 115 000, dense at the touch and sparser deeper (out to ~5 % of mid); each event (100 ms of event
 * time) carries 20–100 level changes (mean 60). Which level changes: index k = ⌊n·u⁸⌋ from the touch,
 * so ~55 % of changes hit the top 10 levels and ~27 % land beyond the top 100, deep into the
 * book. Of the changes: ~70 % size updates, ~15 % deletes, ~15 % inserts of new prices (the
 * population stays near 1 200 per side). About one event in ten moves the touch by 1–3 ticks,
 * which deletes crossed levels on one side and inserts new best levels on the other.
 *
 * The simulated venue's market model (ingest/src/sim/market.ts) produces a similar mix but is too
 * slow to generate a million updates inside the benchmark's time budget, hence this generator.
 */
import type { BookDelta, BookSnapshot, Level } from '@depthwatch/schemas';
import { rng } from '@depthwatch/engine/test-streams';

export interface BookStream {
  snapshot: BookSnapshot;
  deltas: BookDelta[];
  levels: number;
  mix: {
    events: number;
    meanLevelsPerEvent: number;
    bookLevelsPerSide: number;
    sizeUpdates: number;
    deletes: number;
    inserts: number;
    top10: number;
    beyondTop100: number;
    eventsWithMidMove: number;
  };
}

export function makeBookStream(opts: { targetLevels: number; seed?: number; levelsPerSide?: number }): BookStream {
  const L = opts.levelsPerSide ?? 1200;
  const rnd = rng(opts.seed ?? 7);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const TICK_DIV = 10; // tick 0.1
  const mid0 = 1_150_000; // ticks
  const lots = (k: number) => Math.max(1, Math.round((30 + k / 2) * Math.exp(0.7 * gauss()))); // 0.001 lots
  const price = (t: number) => t / TICK_DIV;
  const size = (l: number) => l / 1000;
  // side[0]: bids, ticks descending; side[1]: asks, ticks ascending. Best first.
  const ticks: [number[], number[]] = [[], []];
  const sizes: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];
  const c = (0.05 * mid0 - L) / (L * L);
  for (let k = 0; k < L; k++) {
    const off = Math.round(k + c * k * k);
    for (const s of [0, 1] as const) {
      const t = s === 0 ? mid0 - 1 - off : mid0 + off;
      ticks[s].push(t);
      sizes[s].set(t, lots(k));
    }
  }
  const now0 = 1_767_225_600_000;
  const snapshot: BookSnapshot = {
    type: 'book_snapshot', venue: 'binance', symbol: 'BTC/USDT', ts: now0, recvTs: now0 + 3, seq: 1,
    bids: ticks[0].map((t) => [price(t), size(sizes[0].get(t)!)] as Level),
    asks: ticks[1].map((t) => [price(t), size(sizes[1].get(t)!)] as Level),
    depthLimit: 0,
  };
  const mix = { events: 0, meanLevelsPerEvent: 0, bookLevelsPerSide: L, sizeUpdates: 0, deletes: 0, inserts: 0, top10: 0, beyondTop100: 0, eventsWithMidMove: 0 };
  const deltas: BookDelta[] = [];
  let levels = 0;
  let ts = now0;
  // Position of tick t in a best-first side (binary search); `better(a, b)`: a is nearer the touch.
  const find = (s: 0 | 1, t: number): number => {
    const arr = ticks[s];
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (s === 0 ? arr[m] > t : arr[m] < t) lo = m + 1;
      else hi = m;
    }
    return lo;
  };
  while (levels < opts.targetLevels) {
    ts += 100;
    const out: [Level[], Level[]] = [[], []];
    const emit = (s: 0 | 1, t: number, l: number, k: number) => {
      out[s].push([price(t), size(l)]);
      if (k < 10) mix.top10++;
      else if (k >= 100) mix.beyondTop100++;
    };
    const del = (s: 0 | 1, i: number) => {
      const t = ticks[s][i];
      ticks[s].splice(i, 1);
      sizes[s].delete(t);
      mix.deletes++;
      emit(s, t, 0, i);
    };
    const ins = (s: 0 | 1, t: number) => {
      const i = find(s, t);
      if (ticks[s][i] === t) return false;
      ticks[s].splice(i, 0, t);
      const l = lots(i);
      sizes[s].set(t, l);
      mix.inserts++;
      emit(s, t, l, i);
      return true;
    };
    // Occasional touch move by 1–3 ticks.
    if (rnd() < 0.1) {
      mix.eventsWithMidMove++;
      const d = (1 + Math.floor(rnd() * 3)) * (rnd() < 0.5 ? -1 : 1);
      const up = d > 0;
      const newBid = ticks[0][0] + d;
      const newAsk = ticks[1][0] + d;
      if (up) {
        while (ticks[1].length && ticks[1][0] < newAsk) del(1, 0);
        for (let t = ticks[0][0] + 1; t <= newBid; t++) ins(0, t);
        if (ticks[1][0] !== newAsk) ins(1, newAsk);
      } else {
        while (ticks[0].length && ticks[0][0] > newBid) del(0, 0);
        for (let t = ticks[1][0] - 1; t >= newAsk; t--) ins(1, t);
        if (ticks[0][0] !== newBid) ins(0, newBid);
      }
    }
    const n = 20 + Math.floor(rnd() * 81);
    for (let j = 0; j < n; j++) {
      const s: 0 | 1 = rnd() < 0.5 ? 0 : 1;
      const arr = ticks[s];
      const k = Math.floor(arr.length * rnd() ** 8);
      const r = rnd();
      // ~14 % deletes and ~14 % inserts, nudged so the population stays near L per side.
      const pDelete = Math.min(0.2, Math.max(0.08, 0.14 + (0.5 * (arr.length - L)) / L));
      if (r < pDelete) {
        // The best level itself only goes away when the touch moves; a cancel drawn there hits one just behind it.
        del(s, k > 0 ? k : Math.min(arr.length - 1, 1 + Math.floor(rnd() * 10)));
      } else if (r < pDelete + 0.14) {
        // A new price at the first gap at or behind level k (the book is one tick apart near the touch).
        let j = k;
        while (j + 1 < arr.length && Math.abs(arr[j + 1] - arr[j]) <= 1) j++;
        const next = arr[j + 1];
        const gap = next === undefined ? 4 : Math.abs(next - arr[j]) - 1;
        const t = arr[j] + (s === 0 ? -1 : 1) * (1 + Math.floor(rnd() * Math.min(gap, 50)));
        if (!ins(s, t)) {
          const l = lots(k);
          sizes[s].set(arr[k], l);
          mix.sizeUpdates++;
          emit(s, arr[k], l, k);
        }
      } else {
        const l = lots(k);
        sizes[s].set(arr[k], l);
        mix.sizeUpdates++;
        emit(s, arr[k], l, k);
      }
    }
    const m = out[0].length + out[1].length;
    levels += m;
    mix.events++;
    deltas.push({ type: 'book_delta', venue: 'binance', symbol: 'BTC/USDT', ts, recvTs: ts + 3, seq: deltas.length + 2, bids: out[0], asks: out[1] });
  }
  mix.meanLevelsPerEvent = levels / deltas.length;
  return { snapshot, deltas, levels, mix };
}

/** Replays the stream into a plain Map per side: the reference final book for correctness checks. */
export function finalBook(stream: BookStream): { bids: Level[]; asks: Level[] } {
  const sides = [new Map<number, number>(), new Map<number, number>()];
  for (const [p, s] of stream.snapshot.bids) sides[0].set(p, s);
  for (const [p, s] of stream.snapshot.asks) sides[1].set(p, s);
  for (const d of stream.deltas) {
    for (const [p, s] of d.bids) (s === 0 ? sides[0].delete(p) : sides[0].set(p, s));
    for (const [p, s] of d.asks) (s === 0 ? sides[1].delete(p) : sides[1].set(p, s));
  }
  return {
    bids: [...sides[0]].sort((a, b) => b[0] - a[0]),
    asks: [...sides[1]].sort((a, b) => a[0] - b[0]),
  };
}
