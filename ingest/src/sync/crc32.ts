import * as zlib from 'node:zlib';

/**
 * CRC-32 (IEEE 802.3, the zlib polynomial) of a string's UTF-8 bytes as an unsigned 32-bit integer:
 * the checksum Kraken (book, top 10) and OKX (books, top 25) define. Uses node's zlib.crc32 where
 * the runtime has it (Node ≥ 20.15 / 22.2), else a table-driven fallback with identical results.
 */

let TABLE: Uint32Array | null = null;

function table(): Uint32Array {
  if (TABLE) return TABLE;
  TABLE = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    TABLE[n] = c >>> 0;
  }
  return TABLE;
}

/** Pure-JS CRC-32; exported so tests can check it against zlib. */
export function crc32Fallback(text: string): number {
  const t = table();
  const bytes = Buffer.from(text, 'utf8');
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const native = (zlib as unknown as { crc32?: (data: string | Uint8Array) => number }).crc32;

/** Unsigned CRC-32 of `text`. Venues that compare as signed int32 (OKX) convert with `| 0`. */
export function crc32(text: string): number {
  return native ? native(text) >>> 0 : crc32Fallback(text);
}
