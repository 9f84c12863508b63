/**
 * Grafana is not installable here, so the dashboard is checked structurally, every PromQL
 * expression is parsed (lezer-promql, then promtool's real parser and type checker), and every
 * metric and label a panel, variable or alert rule uses must be registered in the TypeScript
 * sources: dashboards and rules cannot drift from the code. docs/metrics.md must document every
 * registered metric.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DASHBOARD_FILE,
  METRICS_DOC,
  ROOT,
  analyzePromql,
  loadRules,
  metricProblems,
  promtool,
  readYaml,
  recordLabels,
  registeredMetrics,
  type MetricDef,
} from '../prometheus/catalog.ts';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  collapsed?: boolean;
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query: string };
  definition?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
  annotations?: { list: { expr?: string; datasource?: { uid?: string } }[] };
}

const PANEL_TYPES = new Set(['row', 'timeseries', 'stat', 'state-timeline', 'table', 'gauge', 'bargauge', 'text']);
const GRAFANA_BUILTINS = new Set(['__rate_interval', '__interval', '__range', '__interval_ms', '__range_s', '__range_ms']);

/** Rows the ops issue asks for, with metrics each must chart (prefix match on the name used). */
const REQUIRED: Record<string, string[]> = {
  Venues: [
    'depthwatch_ingest_messages_total',
    'depthwatch_ingest_feed_lag_seconds_bucket',
    'depthwatch_ingest_resyncs_total',
    'depthwatch_ingest_gaps_total',
    'depthwatch_ingest_checksum_failures_total',
    'depthwatch_ingest_reconnects_total',
    'depthwatch_ingest_sync_state',
  ],
  Engine: ['depthwatch_engine_events_total', 'depthwatch_engine_processing_seconds_bucket', 'depthwatch_engine_books', 'depthwatch_engine_alerts_total'],
  Bus: ['depthwatch_bus_produced_total', 'depthwatch_bus_consumed_total', 'depthwatch_bus_consumer_lag'],
  Storage: ['depthwatch_sink_rows_inserted_total', 'depthwatch_sink_insert_latency_seconds_bucket', 'depthwatch_sink_buffered_rows', 'depthwatch_sink_failures_total'],
  Gateway: [
    'depthwatch_gateway_connections',
    'depthwatch_gateway_messages_sent_total',
    'depthwatch_gateway_bytes_sent_total',
    'depthwatch_gateway_conflated_total',
    'depthwatch_gateway_dropped_total',
    'depthwatch_gateway_refused_total',
  ],
  Process: ['depthwatch_process_cpu_seconds_total', 'depthwatch_process_resident_memory_bytes', 'depthwatch_nodejs_eventloop_lag_p99_seconds'],
};

/** Grafana variables → values PromQL parsers accept: durations for interval macros, 'x' in strings. */
function substituteVariables(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (_m, a?: string, b?: string, c?: string) => (GRAFANA_BUILTINS.has((a ?? b ?? c)!) ? '5m' : 'x'));
}

function variablesUsed(expr: string): string[] {
  return [...expr.matchAll(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g)].map((m) => (m[1] ?? m[2] ?? m[3])!);
}

/** Panels with their row title (rows hold their panels inline when expanded, nested when collapsed). */
function flatten(d: Dashboard): { panel: Panel; row: string }[] {
  const out: { panel: Panel; row: string }[] = [];
  let row = '';
  for (const p of d.panels) {
    if (p.type === 'row') {
      row = p.title;
      for (const child of p.panels ?? []) out.push({ panel: child, row });
    } else out.push({ panel: p, row });
  }
  return out;
}

describe('Grafana dashboard infra/grafana/dashboards/depthwatch.json', () => {
  let d: Dashboard;
  let metrics: Map<string, MetricDef>;
  let records: Map<string, string[]>;
  let exprs: { where: string; expr: string; row: string }[];

  beforeAll(async () => {
    d = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
    metrics = await registeredMetrics();
    records = recordLabels(loadRules());
    exprs = flatten(d).flatMap(({ panel, row }) => (panel.targets ?? []).map((t) => ({ where: `panel "${panel.title}" (${row}) ${t.refId}`, expr: t.expr, row })));
    for (const a of d.annotations?.list ?? []) if (a.expr) exprs.push({ where: 'annotation', expr: a.expr, row: '' });
  });

  it('is a Grafana dashboard model with a datasource variable', () => {
    expect(d.uid).toBe('depthwatch');
    expect(d.title).toBeTruthy();
    expect(typeof d.schemaVersion).toBe('number');
    expect(Array.isArray(d.panels) && d.panels.length > 0).toBe(true);
    const ds = d.templating.list.find((v) => v.name === 'datasource');
    expect(ds?.type).toBe('datasource');
    expect(ds?.query).toBe('prometheus');
  });

  it('has the rows venues, engine, bus, storage, gateway, process in that order', () => {
    const rows = d.panels.filter((p) => p.type === 'row').map((p) => p.title);
    const positions = Object.keys(REQUIRED).map((r) => rows.findIndex((t) => t.startsWith(r)));
    expect(positions.every((p) => p >= 0), `rows: ${rows.join(', ')}`).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
  });

  it('every panel has a unique id, a known type, a sane grid position and no overlap', () => {
    const all = [...d.panels, ...d.panels.flatMap((p) => p.panels ?? [])];
    const ids = all.map((p) => p.id);
    expect(ids.every((i) => Number.isInteger(i) && i > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of all) {
      expect(PANEL_TYPES.has(p.type), `panel ${p.id} "${p.title}" type ${p.type}`).toBe(true);
      expect(p.title, `panel ${p.id} title`).toBeTruthy();
      const g = p.gridPos;
      expect([g.x, g.y, g.w, g.h].every((n) => Number.isInteger(n) && n >= 0), `panel "${p.title}" gridPos`).toBe(true);
      expect(g.w >= 1 && g.h >= 1 && g.x + g.w <= 24, `panel "${p.title}" fits in 24 columns`).toBe(true);
    }
    const top = d.panels; // nested panels of collapsed rows are laid out when expanded
    for (let i = 0; i < top.length; i++)
      for (let j = i + 1; j < top.length; j++) {
        const a = top[i].gridPos;
        const b = top[j].gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `panels "${top[i].title}" and "${top[j].title}" overlap`).toBe(false);
      }
  });

  it('every data panel queries Prometheus through $datasource with unique refIds', () => {
    for (const { panel } of flatten(d)) {
      if (panel.type === 'text') continue;
      expect(panel.datasource?.uid, `panel "${panel.title}" datasource`).toBe('${datasource}');
      const targets = panel.targets ?? [];
      expect(targets.length, `panel "${panel.title}" has queries`).toBeGreaterThan(0);
      expect(new Set(targets.map((t) => t.refId)).size, `panel "${panel.title}" refIds`).toBe(targets.length);
      for (const t of targets) {
        expect(t.expr?.trim(), `panel "${panel.title}" ${t.refId} expr`).toBeTruthy();
        if (t.datasource) expect(t.datasource.uid).toBe('${datasource}');
      }
    }
  });

  it('uses only defined template variables', () => {
    const defined = new Set(d.templating.list.map((v) => v.name));
    const undefinedVars = exprs.flatMap(({ where, expr }) => variablesUsed(expr).filter((v) => !defined.has(v) && !GRAFANA_BUILTINS.has(v)).map((v) => `${where}: $${v}`));
    expect(undefinedVars).toEqual([]);
  });

  it('every panel query parses with the PromQL grammar (@prometheus-io/lezer-promql)', () => {
    const errors = exprs.flatMap(({ where, expr }) => analyzePromql(substituteVariables(expr)).errors.map((e) => `${where}: ${e}\n  ${expr}`));
    expect(errors).toEqual([]);
  });

  it('every panel query passes promtool (Prometheus parser and type checks)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'depthwatch-dashboard-'));
    try {
      const file = join(dir, 'dashboard-exprs.yml');
      const rules = exprs.map(({ expr }, i) => ({ record: `dashboard:expr_${i}:check`, expr: substituteVariables(expr) }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const { status, output } = promtool(['check', 'rules', file]);
      if (status !== 0) {
        const detail = output.replace(/dashboard:expr_(\d+):check/g, (_m, i: string) => `${exprs[Number(i)].where}`);
        throw new Error(`promtool rejects dashboard queries:\n${detail}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every metric and label a panel, annotation or variable uses is registered in the TypeScript sources', () => {
    const problems = exprs.flatMap(({ where, expr }) => metricProblems(substituteVariables(expr), where, metrics, records));
    for (const v of d.templating.list.filter((x) => x.type === 'query')) {
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q.trim());
      if (!m) {
        problems.push(`variable ${v.name}: expected label_values(<selector>, <label>), got ${q}`);
        continue;
      }
      const selector = substituteVariables(m[1]);
      problems.push(...metricProblems(selector, `variable ${v.name}`, metrics, records));
      const sel = analyzePromql(selector).selectors[0];
      const def = metrics.get(sel?.name ?? '');
      const labels = sel?.name === 'up' ? ['job', 'instance'] : def ? ['job', 'instance', ...def.labels] : [];
      if (!labels.includes(m[2])) problems.push(`variable ${v.name}: ${sel?.name} has no label ${m[2]}`);
    }
    expect(problems).toEqual([]);
  });

  it('charts what the ops issue asks for in each row', () => {
    const missing: string[] = [];
    for (const [row, names] of Object.entries(REQUIRED)) {
      const used = exprs.filter((e) => e.row.startsWith(row)).flatMap((e) => analyzePromql(substituteVariables(e.expr)).selectors.map((s) => s.name));
      for (const n of names) if (!used.includes(n)) missing.push(`${row}: ${n}`);
    }
    expect(missing).toEqual([]);
  });
});

describe('Grafana provisioning', () => {
  it('provisions the Prometheus datasource and the dashboards folder the compose file mounts', () => {
    const ds = readYaml<{ datasources: { type: string; url: string; uid: string }[] }>(join(ROOT, 'infra/grafana/provisioning/datasources/prometheus.yml'));
    expect(ds.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' })]);
    const prov = readYaml<{ providers: { type: string; options: { path: string } }[] }>(join(ROOT, 'infra/grafana/provisioning/dashboards/depthwatch.yml'));
    expect(prov.providers).toEqual([expect.objectContaining({ type: 'file', options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }) })]);
    const compose = readFileSync(join(ROOT, 'infra/docker-compose.yml'), 'utf8');
    expect(compose).toContain('./grafana/provisioning:/etc/grafana/provisioning');
    expect(compose).toContain('./grafana/dashboards:/var/lib/grafana/dashboards');
  });
});

describe('docs/metrics.md', () => {
  it('documents every registered metric with its type and labels, and no metric that does not exist', async () => {
    const metrics = await registeredMetrics();
    const doc = readFileSync(METRICS_DOC, 'utf8');
    const proposedAt = doc.search(/^## Not instrumented yet/m);
    const documented = proposedAt >= 0 ? doc.slice(0, proposedAt) : doc;
    const problems: string[] = [];
    const rows = new Map<string, string>();
    for (const line of documented.split('\n')) {
      const m = /^\|\s*`(depthwatch_[a-z0-9_]+)`\s*\|(.*)$/.exec(line);
      if (m) rows.set(m[1], m[2]);
    }
    for (const def of metrics.values()) {
      const row = rows.get(def.name);
      if (!row) {
        problems.push(`${def.name} (${def.file}) has no table row "| \`${def.name}\` | ${def.type} | …"`);
        continue;
      }
      const cells = row.split('|').map((c) => c.trim());
      if (cells[0] !== def.type) problems.push(`${def.name}: documented type "${cells[0]}", registered ${def.type}`);
      const docLabels = [...(cells[1] ?? '').matchAll(/`(\w+)`/g)].map((l) => l[1]).sort();
      if (docLabels.join(',') !== [...def.labels].sort().join(',')) problems.push(`${def.name}: documented labels [${docLabels}], registered [${def.labels}]`);
    }
    for (const name of rows.keys()) if (!metrics.has(name)) problems.push(`${name} is documented but registered nowhere (move it under "## Not instrumented yet" or remove it)`);
    expect(problems).toEqual([]);
  });
});
