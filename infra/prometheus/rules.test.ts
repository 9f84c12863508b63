/**
 * Prometheus config and alert rules: promtool check config / check rules / test rules, plus the
 * conventions promtool cannot check (every alert unit-tested both ways, severity and annotations,
 * runbook sections in docs/metrics.md, rule files picked up by the configs, metrics that exist).
 * Needs promtool (`bash infra/local/prometheus.sh install`); fails, never skips, without it.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  METRICS_DOC,
  ROOT,
  RULES_FILE,
  RULES_TEST_FILE,
  analyzePromql,
  levelLabels,
  loadRules,
  metricProblems,
  promtool,
  readYaml,
  recordLabels,
  registeredMetrics,
  type MetricDef,
  type RuleGroup,
} from './catalog.ts';

const CONFIGS = ['infra/prometheus/prometheus.yml', 'infra/prometheus/prometheus.local.yml'];
const RULES_DIR = join(ROOT, 'infra/prometheus/rules');

interface RulesTestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: { exp_labels?: Record<string, string> }[] }[] }[];
}

interface PromConfig {
  rule_files?: string[];
  scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] }[];
}

/** Shell-style glob of one path segment (what Prometheus' rule_files patterns use here). */
function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}$`);
  return re.test(name);
}

function assertPromtool(args: string[]): string {
  const { status, output } = promtool(args);
  if (status !== 0) throw new Error(`promtool ${args.join(' ')} failed (exit ${status}):\n${output}`);
  return output;
}

describe('Prometheus config and rules (promtool)', () => {
  it.each(CONFIGS)('promtool check config %s', (config) => {
    expect(assertPromtool(['check', 'config', config])).toMatch(/SUCCESS/);
  });

  it('promtool check rules', () => {
    expect(assertPromtool(['check', 'rules', RULES_FILE])).toMatch(/SUCCESS/);
  });

  it('promtool test rules (every alert, firing and not firing)', () => {
    expect(assertPromtool(['test', 'rules', RULES_TEST_FILE])).toMatch(/SUCCESS/);
  });
});

describe('rules conventions', () => {
  let groups: RuleGroup[];
  let tests: RulesTestFile;
  let metrics: Map<string, MetricDef>;
  beforeAll(async () => {
    groups = loadRules();
    tests = readYaml<RulesTestFile>(RULES_TEST_FILE);
    metrics = await registeredMetrics();
  });
  const alerts = () => groups.flatMap((g) => g.rules.filter((r) => r.alert));

  it('has the alerts the ops issue asks for', () => {
    const names = alerts().map((a) => a.alert);
    for (const required of [
      'DepthwatchVenueFeedDown',
      'DepthwatchVenueNoMessages',
      'DepthwatchResyncStorm',
      'DepthwatchChecksumFailures',
      'DepthwatchConsumerLagGrowing',
      'DepthwatchSinkBufferFilling',
      'DepthwatchSinkInsertFailures',
      'DepthwatchSinkRowsDropped',
      'DepthwatchGatewayDroppingMessages',
      'DepthwatchGatewaySlowConsumerDisconnects',
      'DepthwatchGatewayRefusalsSpike',
      'DepthwatchEngineProcessingLatencyHigh',
      'DepthwatchTargetDown',
    ])
      expect(names, `missing alert ${required}`).toContain(required);
    expect(new Set(names).size, 'alert names must be unique').toBe(names.length);
  });

  it('every alert has severity page|ticket, a component and summary/description/runbook annotations', () => {
    for (const a of alerts()) {
      expect(a.alert, 'alert names start with Depthwatch').toMatch(/^Depthwatch[A-Z]\w+$/);
      expect(['page', 'ticket'], `${a.alert} severity`).toContain(a.labels?.severity);
      expect(['ingest', 'bus', 'engine', 'sink', 'gateway', 'process'], `${a.alert} component`).toContain(a.labels?.component);
      expect(a.annotations?.summary, `${a.alert} summary`).toBeTruthy();
      expect(a.annotations?.description, `${a.alert} description`).toBeTruthy();
      expect(a.annotations?.runbook, `${a.alert} runbook`).toBe(`docs/metrics.md#${a.alert!.toLowerCase()}`);
    }
  });

  it('every alert has a runbook section in docs/metrics.md', () => {
    const doc = readFileSync(METRICS_DOC, 'utf8');
    const headings = new Set([...doc.matchAll(/^#{2,4}\s+`?(\w+)`?\s*$/gm)].map((m) => m[1]));
    const missing = alerts()
      .map((a) => a.alert!)
      .filter((n) => !headings.has(n));
    expect(missing, `docs/metrics.md needs a "### <AlertName>" section for each of these`).toEqual([]);
  });

  it('every alert is unit-tested firing and not firing', () => {
    expect(tests.rule_files).toEqual([basename(RULES_FILE)]);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    const problems: string[] = [];
    for (const a of alerts()) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) problems.push(`${a.alert}: no test case where it fires`);
      if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) problems.push(`${a.alert}: no test case where it must not fire`);
    }
    const known = new Set(alerts().map((a) => a.alert));
    for (const c of cases) if (!known.has(c.alertname)) problems.push(`test case for unknown alert ${c.alertname}`);
    expect(problems).toEqual([]);
  });

  it('recording rules follow level:metric:operations and their labels match the level', () => {
    for (const r of groups.flatMap((g) => g.rules.filter((x) => x.record))) {
      expect(r.record).toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
      // the outermost aggregation's by(...) is the level: `venue_channel:` ⇔ by (venue, channel)
      const outer = analyzePromql(r.expr).groupings.find((g) => g.kind === 'by');
      expect(outer?.labels.filter((l) => l !== 'le').sort(), r.record).toEqual(levelLabels(r.record!).sort());
    }
  });

  it('every metric and label used by a rule is registered in the TypeScript sources', () => {
    const records = recordLabels(groups);
    const problems = groups.flatMap((g) => g.rules.flatMap((r) => metricProblems(r.expr, `rule ${r.alert ?? r.record}`, metrics, records)));
    expect(problems).toEqual([]);
  });

  it('both configs load the rules file and not the unit tests, and scrape every stage', () => {
    const ruleFiles = readdirSync(RULES_DIR);
    for (const file of CONFIGS) {
      const cfg = readYaml<PromConfig>(join(ROOT, file));
      const patterns = (cfg.rule_files ?? []).map((p) => basename(p));
      const loaded = ruleFiles.filter((f) => patterns.some((p) => globMatch(p, f)));
      expect(loaded, `${file} rule_files`).toContain(basename(RULES_FILE));
      expect(loaded, `${file} must not load the promtool unit tests as rules`).not.toContain(basename(RULES_TEST_FILE));
      const jobs = cfg.scrape_configs.filter((j) => j.job_name !== 'prometheus');
      for (const j of jobs) expect(j.job_name, 'DepthwatchTargetDown selects job=~"depthwatch.*"').toMatch(/^depthwatch/);
      const ports = jobs.flatMap((j) => [...(j.static_configs ?? []).flatMap((s) => s.targets.map((t) => Number(t.split(':').pop()))), ...(j.dns_sd_configs ?? []).map((d) => d.port)]);
      for (const port of [8080, 9464, 9465]) expect(ports, `${file} scrapes :${port}`).toContain(port);
    }
    const compose = readFileSync(join(ROOT, 'infra/docker-compose.yml'), 'utf8');
    expect(compose).toContain('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml');
    expect(readYaml<PromConfig>(join(ROOT, CONFIGS[0])).rule_files?.every((p) => p.startsWith('/etc/prometheus/rules/'))).toBe(true);
    expect(existsSync(join(ROOT, 'infra/prometheus/rules'))).toBe(true);
  });
});
