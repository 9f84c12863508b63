import type { RawRecord } from '../sync/venue-session.ts';

/**
 * The recording file format (docs/recording.md): gzip-compressed NDJSON, one JSON object per line.
 * Every file starts with a `file` header, then the `session` records of every venue known so far
 * (repeated in each rotated file so a file describes itself), then the records in processing order.
 */

export const FORMAT = 'depthwatch-raw';
export const FORMAT_VERSION = 1;

/** First line of every file. */
export interface FileHeader {
  kind: 'file';
  format: typeof FORMAT;
  version: number;
  ts: number;
  /** 0 for the first file of a recorder run, then 1, 2, … */
  index: number;
  /** Run id of the recorder (all files of one run share it). */
  run: string;
}

/** The recorder's bounded queue overflowed: `count` records are missing right before this line. */
export interface DropMarker {
  kind: 'drop';
  ts: number;
  count: number;
}

export type FileRecord = RawRecord | FileHeader | DropMarker;

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** `depthwatch-20250101T120000123Z-0003.ndjson.gz`: names sort chronologically. */
export function fileName(prefix: string, ts: number, index: number): string {
  const iso = new Date(ts).toISOString().replace(/[-:.]/g, '');
  return `${prefix}-${iso}-${String(index).padStart(4, '0')}.ndjson.gz`;
}
