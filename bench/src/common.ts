/**
 * Shared plumbing of the benchmark files: every `*.bench.ts` exports `run(): Promise<BenchResult>`
 * and calls `main(import.meta.url, run)` so it works both as a child of run.ts (figures go to the
 * file named by BENCH_OUT) and alone (`npx tsx bench/src/engine.bench.ts` prints them).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Figure } from './harness.ts';

export interface BenchResult {
  figures: Figure[];
  /** Extra lines for the machine/version header (e.g. the ClickHouse server version). */
  info?: Record<string, string>;
}

export function main(metaUrl: string, run: () => Promise<BenchResult>): void {
  if (process.argv[1] && fileURLToPath(metaUrl) !== process.argv[1]) return;
  run()
    .then((res) => {
      const out = process.env['BENCH_OUT'];
      if (out) writeFileSync(out, JSON.stringify(res));
      else console.log(JSON.stringify(res, null, 2));
      process.exit(0);
    })
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}

/** Writes what is measured so far: if the benchmark then runs out of time, run.ts keeps these rows. */
export function partial(res: BenchResult): void {
  const out = process.env['BENCH_OUT'];
  if (out) writeFileSync(out, JSON.stringify({ ...res, partial: true }));
}

export function log(...args: unknown[]): void {
  // stderr: run.ts shows it live; stdout stays clean.
  console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...args);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `fn` until it returns true or `ms` pass. */
export async function waitFor(what: string, fn: () => boolean, ms: number, every = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
