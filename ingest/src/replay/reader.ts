import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { isGzip, type FileRecord } from '../record/format.ts';

/**
 * Streams records out of recording files (gzip or plain NDJSON), file after file, in order. A
 * recording cut short (crash, copy of a file still being written) replays up to the cut: a
 * truncated gzip stream yields everything decodable before the cut, a truncated last line is
 * dropped, and both are reported through `onWarning`. A corrupt line in the middle is skipped and
 * reported.
 */

export interface ReadWarning {
  file: string;
  line: number;
  kind: 'truncated_gzip' | 'truncated_line' | 'bad_line' | 'read_error';
  message: string;
}

export interface ReadOptions {
  onWarning?: (w: ReadWarning) => void;
}

async function gzipped(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return isGzip(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function parseLine(text: string): FileRecord | null {
  try {
    const v = JSON.parse(text) as FileRecord;
    return v && typeof v === 'object' && typeof v.kind === 'string' && typeof v.ts === 'number' ? v : null;
  } catch {
    return null;
  }
}

export async function* readRecordingFile(path: string, opts: ReadOptions = {}): AsyncGenerator<FileRecord> {
  const warn = (line: number, kind: ReadWarning['kind'], message: string) => opts.onWarning?.({ file: path, line, kind, message });
  const source = createReadStream(path);
  const stream = (await gzipped(path)) ? source.pipe(createGunzip()) : source;
  if (stream !== source) source.on('error', (err) => stream.destroy(err));
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let line = 0;
  let cut: string | null = null;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      rest += decoder.write(chunk);
      let nl: number;
      let start = 0;
      while ((nl = rest.indexOf('\n', start)) >= 0) {
        const text = rest.slice(start, nl);
        start = nl + 1;
        line++;
        if (text.length === 0) continue;
        const rec = parseLine(text);
        if (rec) yield rec;
        else warn(line, 'bad_line', `unparseable line skipped: ${text.slice(0, 80)}`);
      }
      rest = rest.slice(start);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    cut = e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message) ? 'truncated_gzip' : 'read_error';
    warn(line + 1, cut === 'truncated_gzip' ? 'truncated_gzip' : 'read_error', cut === 'truncated_gzip' ? `gzip stream is truncated (${e.message}): replaying up to the cut` : `read failed: ${e.message}`);
  } finally {
    source.destroy();
  }
  rest += decoder.end();
  if (rest.length > 0) {
    // No newline after the last line: a line cut mid-write unless it happens to be complete JSON.
    line++;
    const rec = parseLine(rest);
    if (rec) yield rec;
    else warn(line, 'truncated_line', `last line is truncated (${rest.length} bytes dropped): replaying up to the cut`);
  }
}

/** Records of several files, one after the other. */
export async function* readRecordings(paths: readonly string[], opts: ReadOptions = {}): AsyncGenerator<FileRecord> {
  for (const p of paths) yield* readRecordingFile(p, opts);
}
