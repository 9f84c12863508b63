import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { metricValue } from '@depthwatch/ops';
import type { RawRecord } from '../sync/venue-session.ts';
import { RawRecorder } from './recorder.ts';
import { readRecordings, type ReadWarning } from '../replay/reader.ts';
import type { FileRecord } from './format.ts';

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = '';
});

async function readAll(files: string[]): Promise<{ records: FileRecord[]; warnings: ReadWarning[] }> {
  const records: FileRecord[] = [];
  const warnings: ReadWarning[] = [];
  for await (const r of readRecordings(files, { onWarning: (w) => warnings.push(w) })) records.push(r);
  return { records, warnings };
}

/** Pseudo-random, poorly compressible frame text so size rotation actually triggers. */
function frame(i: number): string {
  let x = (i * 2654435761) >>> 0;
  let s = '';
  for (let k = 0; k < 40; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += x.toString(36);
  }
  return JSON.stringify({ stream: 'btcusdt@depth@100ms', data: { i, s } });
}

const session: RawRecord = { kind: 'session', venue: 'binance', ts: 1, config: { venue: 'binance', symbols: ['BTC/USDT'] }, ticks: true };
const ws = (i: number): RawRecord => ({ kind: 'ws', venue: 'binance', ts: 1000 + i, conn: 0, route: '/stream', text: frame(i) });

describe('RawRecorder', () => {
  it('writes every record in order to size-rotated gzip NDJSON files, each opening with a header and the sessions', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-rec-'));
    const rec = new RawRecorder({ dir, maxFileBytes: 20_000, fsyncIntervalMs: 0 });
    await rec.start();
    const sent: RawRecord[] = [session];
    rec.tap(session);
    for (let i = 0; i < 600; i++) {
      sent.push(ws(i));
      rec.tap(ws(i));
      if (i % 100 === 99) await rec.flush(); // size is measured on flushed compressed bytes: flush between bursts so rotation does not depend on timing
    }
    await rec.close();
    expect(rec.files.length).toBeGreaterThan(2);
    expect(rec.stats.dropped).toBe(0);
    const { records, warnings } = await readAll(rec.files);
    expect(warnings).toEqual([]);
    const data = records.filter((r) => r.kind !== 'file' && !(r.kind === 'session' && records.indexOf(r) > 1));
    expect(data).toEqual(sent);
    // Every file starts with its header; rotated files repeat the session record right after it.
    for (const [i, f] of rec.files.entries()) {
      const lines = gunzipSync(await readFile(f)).toString('utf8').split('\n');
      expect(JSON.parse(lines[0])).toMatchObject({ kind: 'file', format: 'depthwatch-raw', version: 1, index: i, run: rec.run });
      expect(JSON.parse(lines[1])).toMatchObject({ kind: 'session', venue: 'binance' });
    }
  });

  it('drops (never blocks) when its queue is full, counts the drops and marks the hole in the file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-rec-'));
    const before = await metricValue('depthwatch_record_dropped_total');
    const rec = new RawRecorder({ dir, maxQueueRecords: 100, fsyncIntervalMs: 0 });
    await rec.start();
    rec.tap(session);
    for (let i = 0; i < 250; i++) rec.tap(ws(i)); // one synchronous burst: the writer cannot run in between
    await new Promise((r) => setTimeout(r, 20));
    rec.tap(ws(1000));
    await rec.close();
    expect(rec.stats.dropped).toBe(151);
    expect((await metricValue('depthwatch_record_dropped_total')) - before).toBe(151);
    const { records } = await readAll(rec.files);
    const body = records.filter((r) => r.kind !== 'file');
    expect(body.length).toBe(1 + 99 + 1 + 1);
    expect(body[100]).toEqual({ kind: 'drop', ts: 2000, count: 151 });
    expect(body[101]).toMatchObject({ kind: 'ws', ts: 2000 });
    expect(await metricValue('depthwatch_record_frames_total')).toBeGreaterThanOrEqual(101);
  });

  it('flush() makes everything so far decodable on disk while the file is still open', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-rec-'));
    const rec = new RawRecorder({ dir, fsyncIntervalMs: 0 });
    await rec.start();
    rec.tap(session);
    for (let i = 0; i < 50; i++) rec.tap(ws(i));
    await rec.flush();
    // Read the open file as a crash would leave it: a gzip stream without its end.
    const { records, warnings } = await readAll(rec.files);
    expect(records.filter((r) => r.kind === 'ws').length).toBe(50);
    expect(warnings.map((w) => w.kind)).toEqual(['truncated_gzip']);
    await rec.close();
    expect((await readAll(rec.files)).warnings).toEqual([]);
  });
});

describe('reading a cut recording', () => {
  it('replays a truncated gzip stream and a truncated last line up to the cut, with a warning', async () => {
    dir = await mkdtemp(join(tmpdir(), 'dw-rec-'));
    const rec = new RawRecorder({ dir, fsyncIntervalMs: 0 });
    await rec.start();
    rec.tap(session);
    for (let i = 0; i < 400; i++) rec.tap(ws(i));
    await rec.close();
    const full = (await readAll(rec.files)).records;
    const gz = await readFile(rec.files[0]);

    const cutGz = join(dir, 'cut.ndjson.gz');
    await writeFile(cutGz, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const a = await readAll([cutGz]);
    expect(a.warnings.map((w) => w.kind)).toEqual(['truncated_gzip', 'truncated_line']); // cut mid-line as well
    expect(a.records.length).toBeGreaterThan(full.length * 0.3);
    expect(a.records.length).toBeLessThan(full.length);
    expect(a.records).toEqual(full.slice(0, a.records.length));

    const text = gunzipSync(gz).toString('utf8');
    const cutLine = join(dir, 'cut.ndjson');
    await writeFile(cutLine, text.slice(0, text.indexOf('\n', text.length / 2) + 40));
    const b = await readAll([cutLine]);
    expect(b.warnings.map((w) => w.kind)).toEqual(['truncated_line']);
    expect(b.records).toEqual(full.slice(0, b.records.length));
    expect(b.records.length).toBeGreaterThan(full.length * 0.4);
  });
});
