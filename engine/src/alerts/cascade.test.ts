import { describe, expect, it } from 'vitest';
import { DEFAULT_ENGINE_CONFIG, resolveConfig } from '../config.ts';
import { CascadeTracker, judge, type CascadeInput } from './cascade.ts';
import { FeedTracker } from './feed.ts';
import { SampleRing, SecondBuckets, WarmEwma } from '../metrics/rolling.ts';

const cfg = resolveConfig();
const calm: CascadeInput = {
  ts: 1_000,
  liqNotional: 0,
  liqPriorRate: 100,
  liqPercentile: 50_000,
  depth: 10_000_000,
  depthBaseline: 10_000_000,
  spreadBps: 2,
  spreadBaselineBps: 2,
  priceMovePct: 0,
  collapsedVenues: 0,
  warm: true,
};

describe('judge: the staged rule', () => {
  it('pressure needs max(floor, p99) and 25 % of the depth baseline', () => {
    expect(judge({ ...calm, liqNotional: 2_400_000 }, 100_000, cfg).pressure).toBe(false); // < 2.5 M depth gate
    expect(judge({ ...calm, liqNotional: 2_500_000 }, 100_000, cfg).severity).toBe('watch');
    expect(judge({ ...calm, liqNotional: 2_500_000, liqPercentile: 3_000_000 }, 100_000, cfg).pressure).toBe(false);
    expect(judge({ ...calm, liqNotional: 2_500_000, warm: false }, 100_000, cfg).pressure).toBe(false);
  });

  it('acceleration compares the window rate with the prior rate', () => {
    const hot = { ...calm, liqNotional: 3_000_000 }; // 50 k/s
    expect(judge({ ...hot, liqPriorRate: 10_000 }, 1e5, cfg).acceleration).toBe(true);
    expect(judge({ ...hot, liqPriorRate: 10_001 }, 1e5, cfg).acceleration).toBe(false);
    expect(judge({ ...hot, liqPriorRate: NaN }, 1e5, cfg).acceleration).toBe(true);
  });

  it('each confirmation and the severity ladder', () => {
    const hot = { ...calm, liqNotional: 3_000_000 };
    expect(judge({ ...hot, spreadBps: 10 }, 1e5, cfg)).toMatchObject({ confirmations: ['spread'], severity: 'warning' });
    expect(judge({ ...hot, spreadBps: 10, liqPriorRate: 1e6 }, 1e5, cfg).severity).toBe('watch'); // no acceleration
    expect(judge({ ...hot, priceMovePct: 1 }, 1e5, cfg).confirmations).toEqual(['price_move']);
    expect(judge({ ...hot, depth: 2_900_000 }, 1e5, cfg).confirmations).toEqual(['void']);
    expect(judge({ ...hot, depth: 1_000_000 }, 1e5, cfg)).toMatchObject({ confirmations: ['depth_collapse', 'void'], severity: 'critical' });
    expect(judge({ ...hot, spreadBps: 10, priceMovePct: 2 }, 1e5, cfg).severity).toBe('critical');
    expect(judge({ ...hot, collapsedVenues: 2 }, 1e5, cfg).severity).toBe('critical');
    expect(judge({ ...calm, collapsedVenues: 2 }, 1e5, cfg).severity).toBeNull();
  });
});

describe('CascadeTracker lifecycle', () => {
  it('opens, escalates at once, updates periodically, resolves after clearAfterSec calm seconds', () => {
    const t = new CascadeTracker();
    const c = { ...cfg, clearAfterSec: 3, updateEverySec: 5 };
    const step = (ts: number, input: Partial<CascadeInput>) => {
      const i = { ...calm, ts, ...input };
      return t.step(i, judge(i, 100_000, c), c);
    };
    expect(step(1_000, {})).toBeNull();
    expect(step(2_000, { liqNotional: 3e6 })).toBe('open');
    expect(t.severity).toBe('watch');
    expect(step(3_000, { liqNotional: 3e6 })).toBeNull();
    expect(step(4_000, { liqNotional: 3e6, spreadBps: 20 })).toBe('update');
    expect(t.severity).toBe('warning');
    expect(step(5_000, { liqNotional: 3e6 })).toBeNull(); // severity never drops while open
    expect(t.severity).toBe('warning');
    expect(step(9_000, { liqNotional: 3e6 })).toBe('update'); // periodic refresh
    // Below half the threshold (50 k of max(100 k floor, 50 k p99)): 3 calm seconds resolve it.
    expect(step(10_000, { liqNotional: 49_000 })).toBeNull();
    expect(step(11_000, { liqNotional: 49_000 })).toBeNull();
    expect(step(12_000, { liqNotional: 60_000 })).toBeNull(); // not calm: the count restarts
    expect(step(13_000, { liqNotional: 10 })).toBeNull();
    expect(step(14_000, { liqNotional: 10 })).toBe('update'); // periodic refresh while cooling
    expect(step(15_000, { liqNotional: 10 })).toBe('resolved');
    expect(t.active).toBe(false);
    expect(step(16_000, { liqNotional: 3e6 })).toBe('open');
    expect(t.opened).toBe(2);
  });

  it('feed tracker: stale → down → synced', () => {
    const f = new FeedTracker();
    const ev = (state: 'synced' | 'stale' | 'down', ts: number) =>
      ({ type: 'status', venue: 'okx', symbol: '*', ts, recvTs: ts, seq: 1, state, reason: '', resyncs: 0, gaps: 0, checksumFailures: 0, reconnects: 0, lagMs: null }) as const;
    expect(f.onStatus(ev('synced', 1))).toBeNull();
    expect(f.onStatus(ev('stale', 2))).toMatchObject({ state: 'open', severity: 'warning' });
    expect(f.healthy).toBe(false);
    expect(f.onStatus(ev('stale', 3))).toBeNull();
    expect(f.onStatus(ev('down', 4))).toMatchObject({ state: 'update', severity: 'critical', startTs: 2 });
    expect(f.onStatus(ev('synced', 5))).toMatchObject({ state: 'resolved' });
    expect(f.healthy).toBe(true);
  });
});

describe('rolling statistics and config', () => {
  it('WarmEwma is the running mean during warm-up, then an EWMA', () => {
    const e = new WarmEwma(4);
    for (const x of [1, 2, 3]) e.update(x);
    expect(e.value).toBeCloseTo(2, 12);
    e.update(6); // n = 4: still the mean
    expect(e.value).toBeCloseTo(3, 12);
    e.update(7); // weight 1/4
    expect(e.value).toBeCloseTo(4, 12);
  });

  it('SampleRing percentile ignores the delay line', () => {
    const r = new SampleRing(100, 2);
    for (let i = 1; i <= 10; i++) r.push(i);
    expect(r.percentile(1)).toBe(8); // 9 and 10 are still delayed
    expect(r.percentile(0.5)).toBe(4);
    r.discardPending();
    r.push(100);
    expect(r.percentile(1)).toBe(8);
  });

  it('SecondBuckets windows and expiry', () => {
    const b = new SecondBuckets(10);
    b.add(100, 5);
    b.add(105, 7);
    b.add(105, 1);
    expect(b.stats(100, 106)).toEqual({ notional: 13, count: 3, largest: 7 });
    expect(b.sum(101, 106)).toBe(8);
    b.add(112, 1);
    expect(b.sum(100, 113)).toBe(9); // second 100 fell out of the ring
    expect(b.add(101, 1)).toBe(false);
  });

  it('resolveConfig rejects unknown or invalid options', () => {
    expect(resolveConfig({ windowSec: 30 }).windowSec).toBe(30);
    expect(resolveConfig().liqFloorSymbol).toBe(DEFAULT_ENGINE_CONFIG.liqFloorSymbol);
    expect(() => resolveConfig({ nope: 1 } as never)).toThrow(/unknown/);
    expect(() => resolveConfig({ windowSec: -1 })).toThrow();
    expect(() => resolveConfig({ baselineSec: 10 })).toThrow(/baselineSec/);
  });
});
