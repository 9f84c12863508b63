import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from 'prom-client';

/**
 * One registry per process. Metric factories are idempotent by name so modules instantiated
 * several times (one collector per venue, tests starting pipelines repeatedly) share a series.
 */
export const registry = new Registry();
let defaultsStarted = false;

export function startDefaultMetrics(): void {
  if (defaultsStarted) return;
  defaultsStarted = true;
  collectDefaultMetrics({ register: registry, prefix: 'depthwatch_' });
}

export function counter<L extends string>(config: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ ...config, registers: [registry] });
}

export function gauge<L extends string>(config: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Gauge<L>;
  return new Gauge<L>({ ...config, registers: [registry] });
}

export function histogram<L extends string>(config: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ ...config, registers: [registry] });
}

/** Latency buckets in seconds from 100 µs to 10 s. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Current value of a counter or gauge in this process's registry, summed over the series whose
 * labels include `labels` (all series when empty); 0 when the metric is not registered yet.
 * For tests and drills that check a metric moved by exactly what they caused.
 */
export async function metricValue(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const wanted = Object.entries(labels);
  let sum = 0;
  for (const v of (await m.get()).values) {
    const have = v.labels as Record<string, unknown>;
    if (wanted.every(([k, x]) => have[k] === x)) sum += v.value;
  }
  return sum;
}
