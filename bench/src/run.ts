/**
 * `npm run bench [-- [--profile] [name …]]`
 *
 * Runs each benchmark file (bench/src/<name>.bench.ts) in its own child process — a fresh V8 heap
 * and JIT state per benchmark, `--expose-gc` for memory figures — with a time limit each, so the
 * whole suite stays under 10 minutes on a 2-core machine. A benchmark that fails or runs out of
 * time leaves 'not available: <reason>' rows instead of figures. Writes bench/RESULTS.md and
 * bench/results.json; a subset run keeps the previous rows of the benchmarks it did not run.
 *
 * `--no-write` leaves RESULTS.md and results.json alone (profiling runs).
 * `--profile` adds `--cpu-prof` to the children (profiles in bench/out/profiles/) and prints each
 * profile's top self-time functions.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResult } from './common.ts';
import { unavailable, writeResults, type Figure } from './harness.ts';
import { summarizeProfile } from './profile.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const OUT = join(ROOT, 'out');

/** Order and time limit of every benchmark (sum ≈ 9 minutes worst case). */
const BENCHES: { name: string; limitSec: number; what: string }[] = [
  { name: 'engine', limitSec: 90, what: 'L2 book core vs ccxt, JSON off the bus, memory per book' },
  { name: 'gateway', limitSec: 220, what: 'fan-out to 1 k / 10 k ws subscribers vs naive broadcast' },
  { name: 'e2e', limitSec: 120, what: 'simulated venue socket → gateway subscriber latency, memory bus and Kafka' },
  { name: 'kafka', limitSec: 60, what: 'KafkaBus produce → consume vs bare kafkajs' },
  { name: 'clickhouse', limitSec: 50, what: 'ClickHouse sink vs bare @clickhouse/client' },
];

function runChild(name: string, limitSec: number, profile: boolean): Promise<{ result?: BenchResult & { partial?: boolean }; error?: string; seconds: number }> {
  const out = join(OUT, `${name}.json`);
  rmSync(out, { force: true });
  const args = ['--expose-gc', '--import', 'tsx'];
  // One directory per benchmark: the tsx loader thread writes its own profile next to the main thread's.
  if (profile) {
    rmSync(join(OUT, 'profiles', name), { recursive: true, force: true });
    args.push('--cpu-prof', '--cpu-prof-dir', join(OUT, 'profiles', name));
  }
  args.push(join(HERE, `${name}.bench.ts`));
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'inherit', 'pipe'],
      env: { ...process.env, BENCH_OUT: out, DEPTHWATCH_LOG_LEVEL: process.env['DEPTHWATCH_LOG_LEVEL'] ?? 'warn' },
      detached: true,
    });
    let tail = '';
    child.stderr.on('data', (d: Buffer) => {
      process.stderr.write(d);
      tail = (tail + d.toString()).slice(-2000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      // SIGINT first so --cpu-prof can still write; then the whole group (the child's own children too).
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        /* gone */
      }
      setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 3000).unref();
    }, limitSec * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      const lastLine = tail.trim().split('\n').filter((l) => !l.startsWith('{')).slice(-1)[0] ?? '';
      const error = timedOut ? `did not finish within its ${limitSec} s budget` : `exited with ${code ?? signal}${lastLine ? `: ${lastLine.slice(0, 200)}` : ''}`;
      let result: (BenchResult & { partial?: boolean }) | undefined;
      if (existsSync(out)) {
        try {
          result = JSON.parse(readFileSync(out, 'utf8')) as BenchResult & { partial?: boolean };
        } catch {
          /* torn write: treat as missing */
        }
      }
      // A benchmark that wrote partial rows and then failed keeps them, plus a row saying what is missing.
      if (result && (result.partial || code !== 0)) resolve({ result, error, seconds });
      else if (result) resolve({ result, seconds });
      else resolve({ error, seconds });
    });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const profile = argv.includes('--profile');
  // --no-write: measure (and profile) without touching RESULTS.md / results.json.
  const noWrite = argv.includes('--no-write');
  const names = argv.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !BENCHES.some((b) => b.name === n));
  if (unknown.length) {
    console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
  const selected = names.length ? BENCHES.filter((b) => names.includes(b.name)) : BENCHES;
  mkdirSync(join(OUT, 'profiles'), { recursive: true });

  // Previous rows of benchmarks not run now are kept.
  let previous: { figures: Figure[]; machine?: Record<string, string> } = { figures: [] };
  const resultsPath = join(ROOT, 'results.json');
  if (existsSync(resultsPath)) {
    try {
      previous = JSON.parse(readFileSync(resultsPath, 'utf8'));
    } catch {
      /* start afresh */
    }
  }
  const byBench = new Map<string, Figure[]>();
  for (const f of previous.figures ?? []) if (f.bench && !selected.some((b) => b.name === f.bench)) byBench.set(f.bench, [...(byBench.get(f.bench) ?? []), f]);

  const info: Record<string, string> = {};
  const timings: string[] = [];
  const t0 = performance.now();
  for (const b of selected) {
    console.error(`\n=== ${b.name}: ${b.what} (limit ${b.limitSec} s)`);
    const r = await runChild(b.name, b.limitSec, profile);
    timings.push(`${b.name} ${r.seconds.toFixed(0)} s`);
    if (r.result) {
      const rows = r.result.figures.map((f) => ({ ...f, bench: b.name, value: f.value ?? NaN }));
      if (r.error) {
        console.error(`=== ${b.name} incomplete: ${r.error}`);
        rows.push({ ...unavailable(b.name, `the rest of ${b.name} (${b.what})`, '', `${r.error}; rows above are what finished`), bench: b.name });
      }
      byBench.set(b.name, rows);
      Object.assign(info, r.result.info ?? {});
    } else {
      console.error(`=== ${b.name} failed: ${r.error}`);
      byBench.set(b.name, [unavailable(b.name, b.what, '', r.error ?? 'failed')].map((f) => ({ ...f, bench: b.name })));
    }
    if (profile) {
      const dir = join(OUT, 'profiles', b.name);
      const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) : [];
      // The main thread is the busiest profile (the others are loader threads).
      const busiest = files.map((f) => ({ f, s: summarizeProfile(join(dir, f), 30) })).sort((a, b) => b.s.busyMs - a.s.busyMs)[0];
      if (busiest) {
        writeFileSync(join(OUT, 'profiles', `${b.name}.top.txt`), `${join(dir, busiest.f)}\n${busiest.s.text}`);
        console.error(`\n--- ${b.name} profile (${join(dir, busiest.f)}): top self time\n${busiest.s.text}`);
      }
    }
  }
  if (noWrite) return;
  const figures = BENCHES.flatMap((b) => byBench.get(b.name) ?? []);
  const keptInfo = Object.fromEntries(Object.entries(previous.machine ?? {}).filter(([k]) => k.startsWith('server ')));
  const { path } = writeResults(figures, { ...keptInfo, ...info, 'this run': `${selected.map((b) => b.name).join(', ')} in ${((performance.now() - t0) / 1000).toFixed(0)} s (${timings.join(', ')})` });
  console.error(`\nwrote ${path}`);
  console.log(readFileSync(path, 'utf8'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
