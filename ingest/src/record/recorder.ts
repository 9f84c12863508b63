import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { constants as Z, createGzip, type Gzip } from 'node:zlib';
import { counter, gauge, logger } from '@depthwatch/ops';
import type { RawRecord, RawTap } from '../sync/venue-session.ts';
import { FORMAT, FORMAT_VERSION, fileName, type DropMarker, type FileHeader } from './format.ts';

/**
 * Writes what the collectors receive (RawTap records) to rotating gzip NDJSON files, off the live
 * path: `tap` only pushes onto a bounded in-memory queue (O(1), never throws, never awaits); a
 * writer drains it on a later turn of the event loop, serializes, and streams through node:zlib
 * (compression runs on the libuv thread pool). When the queue is full (disk or compression cannot
 * keep up) new records are dropped, counted in depthwatch_record_dropped_total, logged
 * (rate-limited), and a `drop` marker line is written where the hole is so a replay can say so.
 *
 * Durability (docs/recording.md): every `fsyncIntervalMs` the gzip stream is flushed with
 * Z_SYNC_FLUSH (everything written so far becomes decodable) and the file is fsync'ed; on rotation
 * and close the gzip stream is finished, fsync'ed and closed. A crash loses at most the last
 * interval and leaves a truncated gzip stream, which the reader replays up to the cut.
 */

export interface RecorderOptions {
  dir: string;
  /** File name prefix (default 'depthwatch'). */
  prefix?: string;
  /** Rotate once the compressed file passes this size (default 256 MiB). */
  maxFileBytes?: number;
  /** Rotate once a file is this old (default 1 h). */
  maxFileAgeMs?: number;
  /** Sync-flush + fsync period (default 5 s; 0 disables: fsync only on rotate/close). */
  fsyncIntervalMs?: number;
  /** Queue bounds: records and text bytes waiting for the writer (defaults 200 000 and 128 MiB). */
  maxQueueRecords?: number;
  maxQueueBytes?: number;
  /** zlib level (default 6). */
  gzipLevel?: number;
  now?: () => number;
}

const recFrames = counter<'venue' | 'kind'>({ name: 'depthwatch_record_frames_total', help: 'Raw records written to recording files', labelNames: ['venue', 'kind'] });
const recBytes = counter({ name: 'depthwatch_record_bytes_total', help: 'Uncompressed NDJSON bytes written to recording files' });
const recCompressed = counter({ name: 'depthwatch_record_compressed_bytes_total', help: 'Compressed bytes written to recording files' });
const recDropped = counter<'venue' | 'reason'>({
  name: 'depthwatch_record_dropped_total',
  help: 'Raw records dropped by the recorder (queue full, writer failed or recorder closed)',
  labelNames: ['venue', 'reason'],
});
const recQueue = gauge({ name: 'depthwatch_record_queue_records', help: 'Raw records waiting for the recording writer' });
const recFiles = counter({ name: 'depthwatch_record_files_total', help: 'Recording files opened' });

/** One output file: gzip → FileHandle, with backpressure from the disk back to the writer. */
class Segment {
  bytesIn = 0;
  bytesOut = 0;
  private pending = 0;
  private writes: Promise<void> = Promise.resolve();
  private error: Error | null = null;

  private constructor(
    readonly path: string,
    readonly openedAt: number,
    private readonly fh: FileHandle,
    private readonly gz: Gzip,
  ) {
    gz.on('data', (chunk: Buffer) => {
      this.bytesOut += chunk.length;
      recCompressed.inc(chunk.length);
      if (++this.pending > 32) gz.pause();
      this.writes = this.writes.then(async () => {
        try {
          if (!this.error) await fh.write(chunk);
        } catch (err) {
          this.error ??= err as Error;
        }
        if (--this.pending < 8 && gz.isPaused()) gz.resume();
      });
    });
    gz.on('error', (err) => (this.error ??= err));
  }

  static async open(path: string, ts: number, level: number): Promise<Segment> {
    const fh = await open(path, 'wx');
    return new Segment(path, ts, fh, createGzip({ level }));
  }

  private check(): void {
    if (this.error) throw this.error;
  }

  async write(text: string): Promise<void> {
    this.check();
    const buf = Buffer.from(text, 'utf8');
    this.bytesIn += buf.length;
    if (!this.gz.write(buf)) await once(this.gz, 'drain');
  }

  /** Everything written so far is decodable and on disk. */
  async sync(): Promise<void> {
    await new Promise<void>((resolve) => this.gz.flush(Z.Z_SYNC_FLUSH, () => resolve()));
    await this.writes;
    this.check();
    await this.fh.sync();
  }

  async close(): Promise<void> {
    const ended = once(this.gz, 'end');
    this.gz.end();
    try {
      await ended;
      await this.writes;
      this.check();
      await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }
}

type Queued = RawRecord | DropMarker;

export class RawRecorder {
  /** Hand this to startIngest({ recorder }) / VenueConfig.recorder. */
  readonly tap: RawTap;
  readonly run = randomUUID();
  readonly stats = { queued: 0, written: 0, bytes: 0, dropped: 0, files: 0 };
  /** Paths of every file opened so far, in order. */
  readonly files: string[] = [];
  private readonly o: Required<Omit<RecorderOptions, 'now'>> & { now: () => number };
  private readonly log = logger('record');
  private queue: Queued[] = [];
  private queueBytes = 0;
  private droppedSinceMark = 0;
  private readonly sessions = new Map<string, RawRecord>();
  private segment: Segment | null = null;
  private index = 0;
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private syncTimer: NodeJS.Timeout | null = null;
  private failed: Error | null = null;
  private closed = false;
  private lastDropLog = 0;
  private dropsSinceLog = 0;

  constructor(opts: RecorderOptions) {
    this.o = {
      dir: opts.dir,
      prefix: opts.prefix ?? 'depthwatch',
      maxFileBytes: opts.maxFileBytes ?? 256 * 1024 * 1024,
      maxFileAgeMs: opts.maxFileAgeMs ?? 3_600_000,
      fsyncIntervalMs: opts.fsyncIntervalMs ?? 5_000,
      maxQueueRecords: opts.maxQueueRecords ?? 200_000,
      maxQueueBytes: opts.maxQueueBytes ?? 128 * 1024 * 1024,
      gzipLevel: opts.gzipLevel ?? 6,
      now: opts.now ?? Date.now,
    };
    this.tap = (rec) => this.push(rec);
  }

  /** Creates the directory and the first file; call before the collectors start. */
  async start(): Promise<void> {
    await mkdir(this.o.dir, { recursive: true });
    await this.enqueueOp(() => this.rotate());
    if (this.o.fsyncIntervalMs > 0) {
      this.syncTimer = setInterval(() => void this.enqueueOp(() => this.syncNow()).catch(() => {}), this.o.fsyncIntervalMs);
      this.syncTimer.unref();
    }
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Writes everything queued so far and makes it durable (sync flush + fsync). */
  async flush(): Promise<void> {
    await this.enqueueOp(async () => {
      await this.drain();
      await this.syncNow();
    });
  }

  /** Writes what is queued, finishes the gzip stream and closes the file. Later taps are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    await this.enqueueOp(async () => {
      await this.drain();
      const seg = this.segment;
      this.segment = null;
      if (seg) await seg.close();
    });
  }

  // ---- live path

  private push(rec: RawRecord): void {
    const size = rec.kind === 'ws' || rec.kind === 'rest' ? rec.text.length : 64;
    if (this.closed || this.failed) return this.drop(rec, this.closed ? 'closed' : 'writer_failed');
    if (this.queue.length >= this.o.maxQueueRecords || this.queueBytes + size > this.o.maxQueueBytes) return this.drop(rec, 'queue_full');
    if (this.droppedSinceMark > 0) {
      this.queue.push({ kind: 'drop', ts: rec.ts, count: this.droppedSinceMark });
      this.droppedSinceMark = 0;
    }
    this.queue.push(rec);
    this.queueBytes += size;
    this.stats.queued++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.enqueueOp(() => this.drain()).catch(() => {});
      });
    }
  }

  private drop(rec: RawRecord, reason: string): void {
    this.stats.dropped++;
    this.droppedSinceMark++;
    recDropped.inc({ venue: rec.venue, reason });
    this.dropsSinceLog++;
    const now = Date.now();
    if (now - this.lastDropLog >= 10_000) {
      this.log.warn({ dropped: this.dropsSinceLog, total: this.stats.dropped, reason, queue: this.queue.length }, 'recorder dropped raw records');
      this.lastDropLog = now;
      this.dropsSinceLog = 0;
    }
  }

  // ---- writer (one operation at a time)

  private enqueueOp(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op);
    this.chain = next.catch((err) => this.fail(err));
    return next;
  }

  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = err as Error;
    this.log.error({ err: (err as Error).message, file: this.segment?.path }, 'recording writer failed; dropping raw records from now on');
    for (const r of this.queue) if (r.kind !== 'drop') this.drop(r, 'writer_failed');
    this.queue = [];
    this.queueBytes = 0;
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.queueBytes = 0;
      recQueue.set(0);
      let text = '';
      for (const r of batch) {
        text += JSON.stringify(r) + '\n';
        if (r.kind === 'session') this.sessions.set(r.venue, r);
        if (r.kind !== 'drop') recFrames.inc({ venue: r.venue, kind: r.kind });
        // Write in ~1 MiB slices so a big backlog still rotates close to the size limit.
        if (text.length >= 1 << 20) text = await this.write(text);
      }
      if (text) await this.write(text);
      this.stats.written += batch.length;
      recQueue.set(this.queue.length);
    }
  }

  private async write(text: string): Promise<string> {
    if (!this.segment || this.segment.bytesOut >= this.o.maxFileBytes || this.o.now() - this.segment.openedAt >= this.o.maxFileAgeMs) await this.rotate();
    await this.segment!.write(text);
    this.stats.bytes += Buffer.byteLength(text);
    recBytes.inc(Buffer.byteLength(text));
    return '';
  }

  private async rotate(): Promise<void> {
    const old = this.segment;
    this.segment = null;
    if (old) await old.close();
    const ts = this.o.now();
    const path = join(this.o.dir, fileName(this.o.prefix, ts, this.index));
    const seg = await Segment.open(path, ts, this.o.gzipLevel);
    const header: FileHeader = { kind: 'file', format: FORMAT, version: FORMAT_VERSION, ts, index: this.index++, run: this.run };
    let head = JSON.stringify(header) + '\n';
    // Each file names its sessions, so any file can be inspected (or replayed from its next resync) on its own.
    for (const s of this.sessions.values()) head += JSON.stringify(s) + '\n';
    await seg.write(head);
    this.segment = seg;
    this.files.push(path);
    this.stats.files++;
    recFiles.inc();
    this.log.info({ file: path }, 'recording to new file');
  }

  private async syncNow(): Promise<void> {
    if (this.segment) await this.segment.sync();
  }
}
