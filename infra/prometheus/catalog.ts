/**
 * Shared by infra/prometheus/rules.test.ts and infra/grafana/dashboard.test.ts: the catalog of
 * metrics registered in the TypeScript sources, a PromQL reader (metric names, label matchers,
 * grouping labels) built on @prometheus-io/lezer-promql, and a promtool runner that never skips.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parser } from '@prometheus-io/lezer-promql';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parse as parseYaml } from 'yaml';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const RULES_FILE = join(ROOT, 'infra/prometheus/rules/depthwatch.rules.yml');
export const RULES_TEST_FILE = join(ROOT, 'infra/prometheus/rules/depthwatch.rules.test.yml');
export const DASHBOARD_FILE = join(ROOT, 'infra/grafana/dashboards/depthwatch.json');
export const METRICS_DOC = join(ROOT, 'docs/metrics.md');

/** Workspaces whose src/ may register metrics. */
const SOURCE_DIRS = ['schemas', 'bus', 'ops', 'ingest', 'engine', 'gateway', 'cli', 'bench'].map((w) => join(ROOT, w, 'src'));

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface MetricDef {
  name: string;
  type: MetricType;
  labels: string[];
  help: string;
  /** Repo-relative file that registers it ('prom-client' for the default process metrics). */
  file: string;
}

/** Labels Prometheus adds to every scraped series. */
export const TARGET_LABELS = ['job', 'instance'];
/** Series Prometheus itself produces. */
export const BUILTIN_SERIES: Record<string, string[]> = {
  up: [],
  ALERTS: ['alertname', 'alertstate', 'severity', 'component', 'venue', 'channel', 'topic', 'group', 'table', 'reason'],
  scrape_duration_seconds: [],
  scrape_samples_scraped: [],
};

export function readYaml<T = unknown>(file: string): T {
  return parseYaml(readFileSync(file, 'utf8')) as T;
}

function walk(dir: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The `{ … }` argument starting at `open` (naive brace matching: enough for metric configs). */
function objectLiteral(src: string, open: number): string {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === '{') depth++;
    else if (src[i] === '}' && --depth === 0) return src.slice(open, i + 1);
  }
  return src.slice(open);
}

const FACTORY = /\b(?:(counter|gauge|histogram|summary)|new\s+(Counter|Gauge|Histogram|Summary))\s*(?:<[^>()]*>)?\s*\(\s*\{/g;

/**
 * Every metric registered in the TS sources: `counter/gauge/histogram({ name: 'depthwatch_…' })`
 * from @depthwatch/ops (or prom-client constructors), plus prom-client's default metrics when
 * some source calls collectDefaultMetrics with prefix 'depthwatch_'.
 */
export async function registeredMetrics(): Promise<Map<string, MetricDef>> {
  const out = new Map<string, MetricDef>();
  let defaultPrefix: string | undefined;
  for (const file of SOURCE_DIRS.flatMap((d) => walk(d))) {
    const src = readFileSync(file, 'utf8');
    const rel = relative(ROOT, file);
    const prefix = /collectDefaultMetrics\s*\(\s*\{[^}]*prefix:\s*['"`](\w+)['"`]/.exec(src);
    if (prefix) defaultPrefix = prefix[1];
    for (const m of src.matchAll(FACTORY)) {
      const body = objectLiteral(src, m.index + m[0].length - 1);
      const name = /\bname:\s*['"`]([a-zA-Z_:][a-zA-Z0-9_:]*)['"`]/.exec(body)?.[1];
      if (!name) continue;
      const labels = /\blabelNames:\s*\[([^\]]*)\]/.exec(body)?.[1];
      const help = /\bhelp:\s*(['"`])([\s\S]*?)\1\s*[,}]/.exec(body)?.[2] ?? '';
      out.set(name, {
        name,
        type: (m[1] ?? m[2].toLowerCase()) as MetricType,
        labels: labels ? [...labels.matchAll(/['"`](\w+)['"`]/g)].map((l) => l[1]) : [],
        help,
        file: rel,
      });
    }
  }
  if (defaultPrefix) {
    const reg = new Registry();
    collectDefaultMetrics({ register: reg, prefix: defaultPrefix });
    for (const m of await reg.getMetricsAsJSON()) {
      // declared label names (values may not carry them yet, e.g. GC kinds before the first GC)
      const declared = (reg.getSingleMetric(m.name) as unknown as { labelNames?: string[] } | undefined)?.labelNames ?? [];
      const labels = new Set<string>(declared);
      for (const v of (m as { values?: { labels?: Record<string, unknown> }[] }).values ?? []) for (const l of Object.keys(v.labels ?? {})) if (l !== 'le') labels.add(l);
      out.set(m.name, { name: m.name, type: String(m.type) as MetricType, labels: [...labels], help: m.help, file: 'prom-client' });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// PromQL

export interface Selector {
  /** Metric name ('' when the selector has none, e.g. `{__name__=~"…"}`). */
  name: string;
  /** Label names used in matchers (without __name__). */
  matchers: string[];
}

export interface PromqlInfo {
  /** Syntax errors: text around each error node. Empty when the expression parses. */
  errors: string[];
  selectors: Selector[];
  /** Each by(…)/without(…)/on(…)/ignoring(…) label list with the selectors below that node. */
  groupings: { labels: string[]; selectors: Selector[]; kind: string }[];
}

type Cursor = ReturnType<ReturnType<typeof parser.parse>['cursor']>;

export function analyzePromql(expr: string): PromqlInfo {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  tree.iterate({
    enter(n) {
      if (n.type.isError) errors.push(`syntax error at ${n.from}: …${expr.slice(Math.max(0, n.from - 20), n.to + 20)}…`);
    },
  });
  if (expr.trim() === '') errors.push('empty expression');
  const text = (c: { from: number; to: number }) => expr.slice(c.from, c.to);
  const unquote = (s: string) => s.replace(/^["'`]|["'`]$/g, '');

  const readSelector = (node: ReturnType<typeof tree.topNode.getChild>): Selector => {
    const sel: Selector = { name: '', matchers: [] };
    const c = node!.cursor();
    c.iterate((n) => {
      if (n.name === 'Identifier' && n.node.parent?.name === 'VectorSelector') sel.name = text(n);
      if (n.name === 'UnquotedLabelMatcher' || n.name === 'QuotedLabelMatcher') {
        const ln = n.node.getChild('LabelName') ?? n.node.getChild('QuotedLabelName');
        const op = n.node.getChild('MatchOp');
        const val = n.node.getChild('StringLiteral');
        if (!ln) return false;
        const label = unquote(text(ln));
        if (label === '__name__') {
          if (op && text(op) === '=' && val) sel.name = unquote(text(val));
        } else sel.matchers.push(label);
        return false;
      }
      if (n.name === 'QuotedLabelName' && n.node.parent?.name === 'LabelMatchers') sel.name = unquote(text(n));
      return undefined;
    });
    return sel;
  };

  const selectorsUnder = (node: NonNullable<ReturnType<typeof tree.topNode.getChild>>): Selector[] => {
    const out: Selector[] = [];
    node.cursor().iterate((n) => {
      if (n.name === 'VectorSelector') {
        out.push(readSelector(n.node));
        return false;
      }
      return undefined;
    });
    return out;
  };

  const selectors = selectorsUnder(tree.topNode);
  const groupings: PromqlInfo['groupings'] = [];
  const c: Cursor = tree.cursor();
  c.iterate((n) => {
    if (n.name === 'GroupingLabels') {
      const labels: string[] = [];
      n.node.cursor().iterate((l) => {
        if (l.name === 'LabelName' || l.name === 'QuotedLabelName') labels.push(unquote(text(l)));
      });
      const modifier = n.node.parent; // AggregateModifier, MatchingModifierClause or GroupLeft/GroupRight's clause
      const kind = modifier ? (modifier.getChild('GroupLeft') ? 'group_left' : modifier.getChild('GroupRight') ? 'group_right' : text(modifier).split(/[\s(]/)[0]) : '';
      // labels of an aggregation refer to its body; of a binary matching clause to both sides
      let scope = modifier?.parent ?? null;
      while (scope && scope.name !== 'AggregateExpr' && scope.name !== 'BinaryExpr') scope = scope.parent;
      groupings.push({ labels, kind, selectors: scope ? selectorsUnder(scope) : selectors });
    }
  });
  return { errors, selectors, groupings };
}

/**
 * Problems with the metrics an expression uses: unknown names, histogram suffixes on
 * non-histograms, label matchers or grouping labels the metric does not have.
 * `records` maps recording-rule names to their labels.
 */
export function metricProblems(expr: string, where: string, metrics: Map<string, MetricDef>, records: Map<string, string[]>): string[] {
  const info = analyzePromql(expr);
  const problems = info.errors.map((e) => `${where}: ${e}`);
  if (problems.length) return problems;

  /** Labels a selector's series can carry, or undefined if its name is unknown. */
  const labelsOf = (sel: Selector): string[] | undefined => {
    if (records.has(sel.name)) return records.get(sel.name);
    if (sel.name in BUILTIN_SERIES) return [...TARGET_LABELS, ...BUILTIN_SERIES[sel.name]];
    const direct = metrics.get(sel.name);
    if (direct) return [...TARGET_LABELS, ...direct.labels];
    const suffix = /^(.*)_(bucket|sum|count)$/.exec(sel.name);
    if (suffix) {
      const base = metrics.get(suffix[1]);
      if (base && (base.type === 'histogram' || (base.type === 'summary' && suffix[2] !== 'bucket')))
        return [...TARGET_LABELS, ...base.labels, ...(suffix[2] === 'bucket' ? ['le'] : [])];
    }
    return undefined;
  };

  for (const sel of info.selectors) {
    if (!sel.name) {
      problems.push(`${where}: selector without a literal metric name (use one so drift can be checked)`);
      continue;
    }
    const labels = labelsOf(sel);
    if (!labels) {
      const base = /^(.*)_(bucket|sum|count)$/.exec(sel.name)?.[1];
      const hint = base && metrics.has(base) ? ` (${base} is a ${metrics.get(base)!.type}, not a histogram)` : '';
      problems.push(`${where}: metric ${sel.name} is not registered in any TypeScript source${hint}`);
      continue;
    }
    for (const m of sel.matchers) if (!labels.includes(m)) problems.push(`${where}: ${sel.name} has no label "${m}" (labels: ${labels.join(', ')})`);
  }
  for (const g of info.groupings) {
    const known = g.selectors.map(labelsOf);
    if (known.some((k) => k === undefined)) continue; // already reported
    const available = new Set(known.flat() as string[]);
    for (const l of g.labels) if (!available.has(l)) problems.push(`${where}: ${g.kind}(${g.labels.join(', ')}) uses "${l}", which none of ${g.selectors.map((s) => s.name).join(', ')} carries`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// rules files

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: { record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }[];
}

export function loadRules(file = RULES_FILE): RuleGroup[] {
  return readYaml<{ groups: RuleGroup[] }>(file).groups;
}

/**
 * Labels of each recording rule's output, from its name's level prefix: `venue_channel:x:y`
 * carries venue and channel (the rules test checks the expression agrees).
 */
export function recordLabels(groups: RuleGroup[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const g of groups) for (const r of g.rules) if (r.record) out.set(r.record, levelLabels(r.record));
  return out;
}

export function levelLabels(record: string): string[] {
  return record.split(':')[0].split('_').filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// promtool

/** Runs promtool; throws (never skips) when it is missing. */
export function promtool(args: string[], cwd = ROOT): { status: number; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 120_000 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new Error(
      code === 'ENOENT'
        ? 'promtool not found on PATH: install it with `bash infra/local/prometheus.sh install` (Debian package "prometheus"; .ci/run does this)'
        : `promtool ${args.join(' ')} could not run: ${r.error.message}`,
    );
  }
  return { status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
