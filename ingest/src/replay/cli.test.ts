import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeEvent } from '@depthwatch/schemas';
import { parseSpeed, parseTime, runRecord, runReplay } from './cli.ts';

describe('runRecord / runReplay (CLI entry points)', () => {
  it('records the simulated venues to a directory, then replays the files through the engine under a run id', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dw-cli-'));
    try {
      const rec = await runRecord({ recordDir: dir, venues: ['binance-futures'], symbols: ['BTC/USDT:USDT', 'NOPE/USDT'], timeScale: 20, seed: 3 });
      const t0 = Date.now();
      while (!rec.ingest.health().ready && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
      expect(rec.ingest.health().ready).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      await rec.stop();
      expect(rec.recorder.stats.written).toBeGreaterThan(20);
      const files = (await readdir(dir)).map((f) => join(dir, f));
      expect(files).toEqual(rec.recorder.files);

      const depth: string[] = [];
      const h = await runReplay({
        files,
        speed: 'max',
        stages: async (bus) => {
          await bus.subscribe('out.depth', (e) => depth.push(serializeEvent(e)));
          return [];
        },
      });
      expect(h.runId).toMatch(/^replay-/);
      expect(h.result.runId).toBe(h.runId);
      expect(h.result.warnings).toEqual([]);
      expect(h.result.sessions.get('binance-futures')!.feeds.get('BTC/USDT:USDT')!.sync.synced).toBe(true);
      expect(depth.length).toBeGreaterThan(0);
      await h.close();
      await expect(runReplay({ files, runId: '' })).rejects.toThrow(/reserved/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses --speed and --from/--to', () => {
    expect(parseSpeed('max')).toBe('max');
    expect(parseSpeed('10')).toBe(10);
    expect(() => parseSpeed('0')).toThrow();
    expect(parseTime('1700000000000')).toBe(1_700_000_000_000);
    expect(parseTime('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000);
    expect(() => parseTime('yesterday')).toThrow();
  });
});
