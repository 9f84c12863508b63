/**
 * `npm run drills`: the reliability drills that are too heavy for `npm test`.
 *
 *   1. Fuzzing at volume: the fuzz test files (ingest/src/fuzz/*.test.ts, gateway/src/fuzz.test.ts)
 *      with DEPTHWATCH_FUZZ_RUNS raised so the parsers see ≥ 1 M generated cases in total; every
 *      property reports its case count, summed here.
 *   2. Gateway load drill (gateway/src/load.drill.ts): 10 k connections, churn, oversized frames,
 *      subscription floods, invalid API keys; probe latency p50/p99 before and under abuse.
 *
 * Results: printed, and written to cli/test/drills/results.json.
 *   npm run drills [-- --fuzz-runs 50000] [-- --conns 10000] [-- --skip-load] [-- --skip-fuzz]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const OUT = fileURLToPath(new URL('./results.json', import.meta.url));

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

// A skipped part keeps its previous figures (marked with when they were taken).
const previous = existsSync(OUT) ? (JSON.parse(readFileSync(OUT, 'utf8')) as Record<string, unknown>) : {};
const summary: Record<string, unknown> = { startedAt: new Date().toISOString() };
if (flag('skip-fuzz') && previous.fuzz) summary.fuzz = { ...(previous.fuzz as object), from: previous.startedAt };
if (flag('skip-load') && previous.load) summary.load = { ...(previous.load as object), from: previous.startedAt };
let failed = false;

if (!flag('skip-fuzz')) {
  // Per property: 9 adapters × (parse + identify + oversized/20) + 3 REST parsers ≈ 21.5 × runs, so 50 000 ≥ 1 M parser cases
  // (plus every seed truncated at every position, and the feed scenarios, capped at 2000 per venue).
  const runs = arg('fuzz-runs', '50000');
  const report = join(tmpdir(), `depthwatch-fuzz-${process.pid}.jsonl`);
  rmSync(report, { force: true });
  const t0 = Date.now();
  const code = await run('npx', ['vitest', 'run', '--project', 'unit', '--testTimeout', '3600000', 'ingest/src/fuzz', 'gateway/src/fuzz.test.ts'], {
    DEPTHWATCH_FUZZ_RUNS: runs,
    DEPTHWATCH_FUZZ_REPORT: report,
  });
  const rows = existsSync(report) ? readFileSync(report, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { suite: string; property: string; cases: number }) : [];
  const bySuite: Record<string, number> = {};
  for (const r of rows) bySuite[r.suite] = (bySuite[r.suite] ?? 0) + r.cases;
  const parserCases = (bySuite['ingest-parsers'] ?? 0) + (bySuite['ingest-feed'] ?? 0);
  summary.fuzz = { runsPerProperty: Number(runs), exitCode: code, seconds: Math.round((Date.now() - t0) / 1000), casesBySuite: bySuite, parserCases, properties: rows };
  console.log(`\nfuzz: ${parserCases.toLocaleString('en')} parser cases (${JSON.stringify(bySuite)}), exit ${code}`);
  if (code !== 0) failed = true;
  if (parserCases < 1_000_000 && !flag('fuzz-runs')) console.log('fuzz: fewer than 1 M parser cases: raise --fuzz-runs');
  rmSync(report, { force: true });
}

if (!flag('skip-load')) {
  const json = join(tmpdir(), `depthwatch-load-${process.pid}.json`);
  const code = await run('npx', ['tsx', 'gateway/src/load.drill.ts', '--conns', arg('conns', '10000'), '--json', json], { DEPTHWATCH_LOG_LEVEL: 'warn' });
  summary.load = existsSync(json) ? { exitCode: code, ...(JSON.parse(readFileSync(json, 'utf8')) as object) } : { exitCode: code };
  rmSync(json, { force: true });
  if (code !== 0) failed = true;
}

summary.finishedAt = new Date().toISOString();
writeFileSync(OUT, JSON.stringify(summary, null, 2) + '\n');
console.log(`\ndrills ${failed ? 'FAILED' : 'passed'}; results in ${OUT}`);
process.exitCode = failed ? 1 : 0;
