import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, homedir, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One figure of the results table. `ratio` compares us with a peer or a ceiling measured in the same run. */
export interface Figure {
  group: string;
  name: string;
  value: number;
  unit: string;
  /** Every run's value; `value` is their median. */
  runs: number[];
  bar?: string;
  peer?: { name: string; value: number; ratio: number };
  note?: string;
  /** Set when the figure could not be measured: the table shows 'not available: <reason>' instead of a number. */
  unavailable?: string;
  /** Which benchmark file produced it (run.ts merges a subset run into the previous results by this). */
  bench?: string;
}

/** A figure that could not be measured; never a made-up number. */
export function unavailable(group: string, name: string, unit: string, reason: string, bar?: string): Figure {
  return { group, name, value: NaN, unit, runs: [], bar, unavailable: reason };
}

/** ratio = ours / peer (for latencies pass `lowerIsBetter` so ratio > 1 still means "we are better"). */
export function withPeer(f: Omit<Figure, 'value' | 'peer'>, peerName: string, peerRuns: number[], lowerIsBetter = false): Figure {
  const value = median(f.runs);
  const pv = median(peerRuns);
  const ratio = lowerIsBetter ? pv / value : value / pv;
  return { ...f, value, peer: { name: peerName, value: pv, ratio } };
}

export function figure(f: Omit<Figure, 'value'>): Figure {
  return { ...f, value: median(f.runs) };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

/** Runs `fn` `runs` times (after `warmup` discarded runs) and returns each run's figure. */
export async function repeat(runs: number, warmup: number, fn: () => number | Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await fn());
  return out;
}

function versionOf(cmd: string): string {
  try {
    return execSync(cmd, { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim().split('\n')[0];
  } catch {
    return 'n/a';
  }
}

function packageVersion(name: string): string {
  try {
    const require = createRequire(import.meta.url);
    // Resolve the package.json next to the entry point (some packages do not export ./package.json).
    let dir = dirname(require.resolve(name));
    for (let i = 0; i < 6; i++) {
      const pj = join(dir, 'package.json');
      if (existsSync(pj)) {
        const j = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version?: string };
        if (j.name === name && j.version) return j.version;
      }
      dir = dirname(dir);
    }
  } catch {
    /* not installed */
  }
  return 'n/a';
}

function kafkaVersion(): string {
  // The local broker (infra/local) runs from cached Maven jars whose file name carries the version.
  const cache = process.env['DEPTHWATCH_CACHE'] || join(homedir(), '.cache', 'depthwatch');
  try {
    const jar = readdirSync(join(cache, 'kafka-libs')).find((f) => /^kafka_2\.13-[0-9.]+\.jar$/.test(f));
    return jar ? `${jar.slice('kafka_2.13-'.length, -4)} (local broker jars)` : 'n/a';
  } catch {
    return 'n/a';
  }
}

export function machineInfo(): Record<string, string> {
  return {
    date: new Date().toISOString(),
    cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    'load average at write (1/5/15 min)': loadavg().map((x) => x.toFixed(2)).join(' / '),
    node: process.version,
    os: versionOf('uname -sr'),
    kafka: kafkaVersion(),
    packages: ['ccxt', 'ws', 'kafkajs', '@clickhouse/client', 'fast-json-stringify', 'tsx']
      .map((p) => `${p} ${packageVersion(p)}`)
      .join(', '),
  };
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

export function writeResults(figures: Figure[], extra: Record<string, string> = {}, preface: string[] = []): { markdown: string; path: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = join(here, '..');
  const info = { ...machineInfo(), ...extra };
  const lines = ['# Benchmark results', '', 'Written by `npm run bench`. Each value is the median of the listed runs; ratios are measured in the same run.', ...preface, ''];
  for (const [k, v] of Object.entries(info)) lines.push(`- **${k}**: ${v}`);
  lines.push('', '| group | figure | median | unit | runs | peer / ceiling (same run) | ratio | bar |', '|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    if (f.unavailable) {
      lines.push(`| ${f.group} | ${f.name} | not available: ${f.unavailable.replace(/\|/g, '/')} | ${f.unit} |  |  |  | ${f.bar ?? ''} |`);
      continue;
    }
    lines.push(
      `| ${f.group} | ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.runs.map(fmt).join(', ')} | ${f.peer ? `${f.peer.name}: ${fmt(f.peer.value)}` : ''} | ${f.peer ? `${f.peer.ratio.toFixed(2)}×` : ''} | ${f.bar ?? ''} |`,
    );
  }
  const notes = figures.filter((f) => f.note);
  if (notes.length) {
    lines.push('', '## Notes', '');
    for (const f of notes) lines.push(`- ${f.group} / ${f.name}: ${f.note}`);
  }
  lines.push('', '## How to read / reproduce', '', '- `npm run bench` runs everything; `npm run bench -- engine gateway` runs a subset (the other rows are kept from the previous results.json).', '- `npm run bench -- --profile engine gateway` also writes V8 CPU profiles to `bench/out/profiles/` and prints their top self-time functions.', '- ratio: ours ÷ peer for throughputs, peer ÷ ours for latencies, so > 1 always means we are ahead.');
  const markdown = lines.join('\n') + '\n';
  mkdirSync(join(root, 'out'), { recursive: true });
  writeFileSync(join(root, 'RESULTS.md'), markdown);
  writeFileSync(join(root, 'results.json'), JSON.stringify({ machine: info, figures }, null, 2) + '\n');
  return { markdown, path: join(root, 'RESULTS.md') };
}
