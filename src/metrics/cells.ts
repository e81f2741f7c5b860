import type { Aggregator, Metric, Registry } from 'prom-client';

/**
 * Counters and histograms that cost plain number arithmetic to record, read by prom-client only
 * when /metrics is scraped.
 *
 * Each label combination (a series) owns one cell, created once: a CounterCell holds a number,
 * a HistogramCell holds per-bucket counts in a Float64Array, a sum and a count. The Recorder
 * keeps the cells it uses and increments them directly, so recording does no label hashing, no
 * string building and no prom-client call. At scrape time the registry calls get(), which
 * returns the same values, labels, series order and aggregator as prom-client's Counter and
 * Histogram would for the same observations, so the exposition text and the --workers
 * aggregation (AggregatorRegistry, over IPC) are unchanged.
 */

/** One counter series: its running total. */
export class CounterCell {
  value = 0;
}

/**
 * One histogram series. `counts[i]` counts the observations that fell in bucket i (above
 * bound i-1, at most bound i), not cumulated: get() cumulates them. Observations above the
 * last bound are only in `count` (the +Inf bucket).
 */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length);
  }

  /**
   * Records one value (seconds). Bounds are inclusive (`le`), as in Prometheus. A value that is
   * not a finite number is ignored (prom-client would throw).
   */
  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    const b = this.bounds;
    const n = b.length;
    let i = 0;
    while (i < n && v > b[i]!) i++;
    if (i < n) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/** What both metric kinds are built from. */
export interface CellMetricOptions<L extends string> {
  name: string;
  help: string;
  /** Label names, in the order series show them. */
  labelNames?: readonly L[];
  /** How the --workers primary merges the workers' values; prom-client's default is 'sum'. */
  aggregator?: Aggregator;
  /** Registries that export it (none: it counts but is not exported). */
  registers: readonly Registry[];
}

/** A value as prom-client's Registry and AggregatorRegistry read it. */
export interface CellValue {
  value: number;
  labels: Record<string, string | number>;
  /** Set for a histogram's _bucket, _sum and _count lines. */
  metricName?: string;
}

/** What get() returns: the shape of prom-client's MetricObjectWithValues. */
export interface CellMetricData {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  values: CellValue[];
  aggregator: Aggregator;
}

/** The series of one metric, in creation order (the order prom-client exports them in). */
abstract class CellMetric<L extends string, C> {
  name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly aggregator: Aggregator;
  abstract readonly type: 'counter' | 'histogram';
  /** Label values joined by NUL → the series. */
  protected readonly series = new Map<string, { labels: Record<string, string>; cell: C }>();

  constructor(opts: CellMetricOptions<L>) {
    this.name = opts.name;
    this.help = opts.help;
    this.labelNames = opts.labelNames ?? [];
    this.aggregator = opts.aggregator ?? 'sum';
    // The Registry needs name, help, type, aggregator, get() and reset(): these provide them.
    for (const r of opts.registers) r.registerMetric(this as unknown as Metric);
  }

  /**
   * The cell of one label combination (values in labelNames order), created at 0 on first use.
   * This builds a key: callers keep the cell and increment it, rather than calling this per event.
   */
  cell(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name}: ${this.labelNames.length} label values expected, got ${values.length}`);
    }
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      s = { labels, cell: this.create() };
      this.series.set(key, s);
    }
    return s.cell;
  }

  protected abstract create(): C;

  /** Registry.resetMetrics(): every series back to 0. Series stay, so kept cells keep counting. */
  abstract reset(): void;

  abstract get(): CellMetricData;
}

/** A counter whose series are CounterCells. */
export class CellCounter<L extends string = string> extends CellMetric<L, CounterCell> {
  readonly type = 'counter';

  constructor(opts: CellMetricOptions<L>) {
    super(opts);
    // Without labels there is one series, exported at 0 from the start (as prom-client does).
    if (this.labelNames.length === 0) this.cell();
  }

  protected create(): CounterCell {
    return new CounterCell();
  }

  reset(): void {
    for (const s of this.series.values()) s.cell.value = 0;
  }

  get(): CellMetricData {
    const values: CellValue[] = [];
    for (const s of this.series.values()) values.push({ value: s.cell.value, labels: s.labels });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/** A histogram whose series are HistogramCells over fixed bucket bounds (seconds). */
export class CellHistogram<L extends string = string> extends CellMetric<L, HistogramCell> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;

  constructor(opts: CellMetricOptions<L> & { buckets: readonly number[] }) {
    super(opts);
    if ((opts.labelNames ?? []).includes('le' as L)) throw new Error('le is a reserved label name');
    this.bounds = Float64Array.from([...opts.buckets].sort((a, b) => a - b));
  }

  protected create(): HistogramCell {
    return new HistogramCell(this.bounds);
  }

  reset(): void {
    for (const { cell } of this.series.values()) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }

  /**
   * Per series: a cumulative `<name>_bucket` per bound with `le` first among the labels, the
   * +Inf bucket, then `<name>_sum` and `<name>_count` (prom-client's lines, in its order).
   */
  get(): CellMetricData {
    const bucket = `${this.name}_bucket`;
    const sum = `${this.name}_sum`;
    const count = `${this.name}_count`;
    const values: CellValue[] = [];
    for (const { labels, cell } of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += cell.counts[i]!;
        values.push({ value: acc, labels: { le: this.bounds[i]!, ...labels }, metricName: bucket });
      }
      values.push({ value: cell.count, labels: { le: '+Inf', ...labels }, metricName: bucket });
      values.push({ value: cell.sum, labels: { ...labels }, metricName: sum });
      values.push({ value: cell.count, labels: { ...labels }, metricName: count });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}
