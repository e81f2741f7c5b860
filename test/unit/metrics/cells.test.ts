import fc from 'fast-check';
import { AggregatorRegistry, Counter, Histogram, Registry, type Aggregator } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CellCounter, CellHistogram } from '../../../src/metrics/cells.js';

/**
 * Cell metrics must export exactly what prom-client's Counter and Histogram export for the same
 * events: the same text, and the same values once several workers' registries are aggregated.
 */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Event = { kind: 'inc'; labels: [string, string]; n: number } | { kind: 'observe'; labels: [string, string]; v: number } | { kind: 'plain'; n: number };

function both(aggregator: Aggregator = 'sum') {
  const cellsReg = new Registry();
  const promReg = new Registry();
  const labelNames = ['route', 'cache'] as const;
  const cells = {
    counter: new CellCounter({ name: 't_requests_total', help: 'Requests.', labelNames, aggregator, registers: [cellsReg] }),
    histogram: new CellHistogram({ name: 't_duration_seconds', help: 'Durations.', labelNames, buckets: BUCKETS, registers: [cellsReg] }),
    plain: new CellCounter({ name: 't_evictions_total', help: 'Without labels.', registers: [cellsReg] }),
  };
  const prom = {
    counter: new Counter({ name: 't_requests_total', help: 'Requests.', labelNames, aggregator, registers: [promReg] }),
    histogram: new Histogram({ name: 't_duration_seconds', help: 'Durations.', labelNames, buckets: BUCKETS, registers: [promReg] }),
    plain: new Counter({ name: 't_evictions_total', help: 'Without labels.', registers: [promReg] }),
  };
  const apply = (events: readonly Event[]): void => {
    for (const e of events) {
      if (e.kind === 'inc') {
        cells.counter.cell(...e.labels).value += e.n;
        prom.counter.labels(...e.labels).inc(e.n);
      } else if (e.kind === 'observe') {
        cells.histogram.cell(...e.labels).observe(e.v);
        prom.histogram.labels(...e.labels).observe(e.v);
      } else {
        cells.plain.cell().value += e.n;
        prom.plain.inc(e.n);
      }
    }
  };
  return { cellsReg, promReg, apply };
}

const labels = fc.tuple(fc.constantFrom('api', 'static', 'a "quoted"\\route'), fc.constantFrom('hit', 'miss', 'stale'));
// Values on the bounds, between them, past the last one, and 0.
const seconds = fc.oneof(fc.constantFrom(0, ...BUCKETS, 11, 1e6), fc.double({ min: 0, max: 20, noNaN: true }));
const events = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('inc' as const), labels, n: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 5 })) }),
    fc.record({ kind: fc.constant('observe' as const), labels, v: seconds }),
    fc.record({ kind: fc.constant('plain' as const), n: fc.integer({ min: 0, max: 3 }) }),
  ),
  { maxLength: 60 },
);

describe('cell metrics', () => {
  it('export the same text as prom-client for the same events', async () => {
    await fc.assert(
      fc.asyncProperty(events, async (evs) => {
        const { cellsReg, promReg, apply } = both();
        apply(evs);
        expect(await cellsReg.metrics()).toBe(await promReg.metrics());
      }),
      { numRuns: 200 },
    );
  });

  it('aggregate across workers as prom-client does (sums, and a max aggregator kept)', async () => {
    for (const aggregator of ['sum', 'max'] as const) {
      await fc.assert(
        fc.asyncProperty(events, events, async (a, b) => {
          const w1 = both(aggregator);
          const w2 = both(aggregator);
          w1.apply(a);
          w2.apply(b);
          // What a worker sends the primary over IPC: its registry as JSON.
          const json = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON()));
          const cells = AggregatorRegistry.aggregate([await json(w1.cellsReg), await json(w2.cellsReg)]);
          const prom = AggregatorRegistry.aggregate([await json(w1.promReg), await json(w2.promReg)]);
          expect(await cells.metrics()).toBe(await prom.metrics());
        }),
        { numRuns: 100 },
      );
    }
  });

  it('cumulate buckets with inclusive bounds; +Inf and _count hold every observation', async () => {
    const reg = new Registry();
    const h = new CellHistogram({ name: 't_seconds', help: 'H.', labelNames: ['route'], buckets: [0.1, 1], registers: [reg] });
    const cell = h.cell('r');
    for (const v of [0.1, 0.5, 1, 3, Number.NaN]) cell.observe(v);
    expect(await reg.metrics()).toBe(
      [
        '# HELP t_seconds H.',
        '# TYPE t_seconds histogram',
        't_seconds_bucket{le="0.1",route="r"} 1',
        't_seconds_bucket{le="1",route="r"} 3',
        't_seconds_bucket{le="+Inf",route="r"} 4',
        't_seconds_sum{route="r"} 4.6',
        't_seconds_count{route="r"} 4',
        '',
      ].join('\n'),
    );
  });

  it('reset() zeroes every series and keeps them, so that cells held elsewhere keep counting', async () => {
    const reg = new Registry();
    const c = new CellCounter({ name: 't_total', help: 'C.', labelNames: ['k'], registers: [reg] });
    const cell = c.cell('a');
    cell.value += 3;
    reg.resetMetrics();
    cell.value++;
    expect(await reg.metrics()).toContain('t_total{k="a"} 1');
  });

  it('refuse label values that do not match the label names', () => {
    const c = new CellCounter({ name: 't_total', help: 'C.', labelNames: ['a', 'b'], registers: [] });
    expect(() => c.cell('x')).toThrow(/2 label values expected/);
  });
});
