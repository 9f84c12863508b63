import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
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

export function machineInfo(): Record<string, string> {
  return {
    date: new Date().toISOString(),
    cpu: `${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}`,
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: process.version,
    os: versionOf('uname -sr'),
    clickhouse: versionOf('clickhouse-server --version 2>/dev/null || clickhouse --version'),
  };
}

function fmt(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

export function writeResults(figures: Figure[], extra: Record<string, string> = {}): { markdown: string; path: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = join(here, '..');
  const info = { ...machineInfo(), ...extra };
  const lines = ['# Benchmark results', '', 'Written by `npm run bench`. Each value is the median of the listed runs; ratios are measured in the same run.', ''];
  for (const [k, v] of Object.entries(info)) lines.push(`- **${k}**: ${v}`);
  lines.push('', '| group | figure | median | unit | runs | peer / ceiling (same run) | ratio | bar |', '|---|---|---|---|---|---|---|---|');
  for (const f of figures) {
    lines.push(
      `| ${f.group} | ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.runs.map(fmt).join(', ')} | ${f.peer ? `${f.peer.name}: ${fmt(f.peer.value)}` : ''} | ${f.peer ? `${f.peer.ratio.toFixed(2)}×` : ''} | ${f.bar ?? ''} |`,
    );
  }
  const notes = figures.filter((f) => f.note);
  if (notes.length) {
    lines.push('', '## Notes', '');
    for (const f of notes) lines.push(`- ${f.group} / ${f.name}: ${f.note}`);
  }
  const markdown = lines.join('\n') + '\n';
  mkdirSync(join(root, 'out'), { recursive: true });
  writeFileSync(join(root, 'RESULTS.md'), markdown);
  writeFileSync(join(root, 'results.json'), JSON.stringify({ machine: info, figures }, null, 2) + '\n');
  return { markdown, path: join(root, 'RESULTS.md') };
}
