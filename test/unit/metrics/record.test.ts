import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../../src/metrics/registry.js';
import { Recorder } from '../../../src/metrics/record.js';

/**
 * test/fixtures/metrics/known-sequence.txt is the /metrics text the Recorder exported for
 * `record` below when it recorded through prom-client's own Counter and Histogram: the cell
 * metrics must keep it byte for byte (names, help, labels and their order, buckets, series order,
 * the series created at 0).
 */
const KNOWN = readFileSync(new URL('../../fixtures/metrics/known-sequence.txt', import.meta.url), 'utf8');

function recorder() {
  const metrics = createMetrics({ memory: () => ({ bytes: 2048, entries: 2 }) }, { defaultMetrics: false });
  return { metrics, rec: new Recorder(metrics) };
}

function record(r: Recorder): void {
  r.init(['api']);
  r.request({ route: 'api', result: 'MISS', ms: 30 });
  r.origin('api', 200, 28);
  r.request({ route: 'api', result: 'HIT', tier: 'memory', ms: 0.3 });
  r.request({ route: 'api', result: 'HIT', tier: 'memory', ms: 0.5 }); // on the first bound: le is inclusive
  r.request({ route: 'api', result: 'HIT', tier: 'redis', ms: 4 });
  r.request({ route: 'api', result: 'STALE', tier: 'memory', stale: 'revalidate', ms: 1.2 });
  r.request({ route: 'api', result: 'MISS', collapsed: true, ms: 12_000 }); // past the last bound: +Inf only
  r.origin('api', undefined, 5000);
  r.upstreamRequest('pool', 'http://10.0.0.1:80');
  r.upstreamError('pool', 'http://10.0.0.1:80', 'connect');
  r.earlyRefresh('api');
  r.eviction();
  r.purge('tag', 2);
  r.reload('ok');
}

describe('Recorder', () => {
  it('exports the same /metrics text as before for a known sequence of events', async () => {
    const { metrics, rec } = recorder();
    record(rec);
    expect(await metrics.registry.metrics()).toBe(KNOWN);
  });

  it('reads as prom-client metrics do: get() gives values and labels', async () => {
    const { metrics, rec } = recorder();
    record(rec);
    expect((await metrics.requests.get()).values.filter((v) => v.value > 0)).toEqual([
      { value: 3, labels: { route: 'api', cache: 'hit' } },
      { value: 2, labels: { route: 'api', cache: 'miss' } },
      { value: 1, labels: { route: 'api', cache: 'stale' } },
    ]);
    expect((await metrics.earlyRefreshes.get()).values).toEqual([{ value: 1, labels: { route: 'api' } }]);
    expect(rec.evictions).toBe(1);
  });

  it('keeps every series through a reload; a new route gets its own at 0', async () => {
    const { metrics, rec } = recorder();
    record(rec);
    rec.init(['api', 'late']);
    const text = await metrics.registry.metrics();
    expect(text).toContain('larder_requests_total{route="api",cache="hit"} 3');
    expect(text).toContain('larder_request_duration_seconds_count{route="api",cache="hit"} 3');
    expect(text).toContain('larder_request_duration_seconds_bucket{le="0.0005",route="api",cache="hit"} 2');
    expect(text).toContain('larder_requests_total{route="late",cache="bypass"} 0');
    expect(text).toContain('larder_request_duration_seconds_bucket{le="+Inf",route="late",cache="miss"} 0');
  });

  it('counts a route it was not told about, with only the series used', async () => {
    const { metrics, rec } = recorder();
    rec.request({ route: 'x', result: 'HIT', tier: 'memory', ms: 1 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('larder_requests_total{route="x",cache="hit"} 1');
    expect(text).toContain('larder_cache_hits_total{route="x",tier="memory"} 1');
    expect(text).not.toContain('cache="miss"');
  });
});
