/**
 * Plays the HTTP caching conformance suite (cache-tests.fyi definitions, from the
 * `http-cache-tests` devDependency) through larder with default settings, in front of our
 * own implementation of the suite's origin, and fails when a test listed in baseline.json
 * no longer passes. See docs/conformance.md.
 *
 * Environment:
 *   LARDER_CONFORMANCE_UPDATE=1      rewrite baseline.json with the tests that pass now
 *   LARDER_CONFORMANCE_IDS=a,b       play only these tests (and their dependencies); only the baseline
 *                                    tests among those played are checked
 *   LARDER_CONFORMANCE_TESTS=DIR     definitions from DIR/index.mjs instead (e.g. a suite checkout); no baseline check
 *   LARDER_CONFORMANCE_RULES=JSON    extra settings for the in-process larder, merged into its config
 *                                    (e.g. '{"routes":[...]}'); no baseline check
 *   LARDER_CONFORMANCE_PROXY=URL     play through an already running proxy instead, which must forward
 *                                    /config, /test and /state to a suite origin; no baseline check
 *   LARDER_CONFORMANCE_OUT=FILE      where to write the full results (default test/conformance/last-run.json)
 *   LARDER_CONFORMANCE_CONCURRENCY=N tests played at once (default 25)
 *
 * A run that is not compared with the whole baseline still fails when no test (or not every
 * requested test) was played, or when a request of the harness timed out.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { createLarder, type Larder } from '../../src/app.js';
import { startConformanceOrigin, type ConformanceOrigin } from './origin.js';
import {
  baselineOf,
  countBySection,
  formatTable,
  loadSuites,
  regressions,
  runConformance,
  type Baseline,
  type RunReport,
} from './run.js';

const env = process.env;
const BASELINE = fileURLToPath(new URL('./baseline.json', import.meta.url));
const OUT = env['LARDER_CONFORMANCE_OUT'] ?? fileURLToPath(new URL('./last-run.json', import.meta.url));
const external = env['LARDER_CONFORMANCE_PROXY']?.replace(/\/+$/, '');
const ids = (env['LARDER_CONFORMANCE_IDS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const testsDir = env['LARDER_CONFORMANCE_TESTS'];
const update = env['LARDER_CONFORMANCE_UPDATE'] === '1';
const rules = env['LARDER_CONFORMANCE_RULES'] ? (JSON.parse(env['LARDER_CONFORMANCE_RULES']) as Record<string, unknown>) : undefined;
/** Only a full run of the packaged definitions through in-process larder is compared with the baseline. */
const canonical = external === undefined && ids.length === 0 && testsDir === undefined && rules === undefined;

/**
 * What a run that is not compared with the whole baseline must still show: the tests asked
 * for were played, no request of the harness timed out, and, when only the set of tests is
 * narrowed (packaged definitions, in-process larder with default settings), every baseline
 * test among those played still passes.
 */
async function checkPartialRun(report: RunReport): Promise<void> {
  const played = report.tests.filter((t) => t.outcome !== 'untested');
  expect(played.length, 'tests played').toBeGreaterThan(0);
  const unplayed = ids.filter((id) => !played.some((t) => t.id === id));
  expect(unplayed, 'requested tests not played (unknown ids?)').toEqual([]);
  const timedOut = report.tests.filter((t) => t.outcome === 'harness_fail').map((t) => `${t.section}/${t.id}: ${t.error ?? ''}`.trim());
  expect(timedOut, 'tests whose requests timed out').toEqual([]);
  if (external !== undefined || testsDir !== undefined || rules !== undefined) return;
  const baseline = JSON.parse(await readFile(BASELINE, 'utf8')) as Baseline;
  const playedIds = new Set(played.map((t) => t.id));
  const selected: Baseline = {};
  for (const [section, list] of Object.entries(baseline)) selected[section] = list.filter((id) => playedIds.has(id));
  const lost = regressions(selected, report);
  expect(lost.map((t) => `${t.section}/${t.id}: ${t.outcome} ${t.error ?? ''}`.trim()), 'baseline tests among those played').toEqual([]);
}

describe('HTTP caching conformance (cache-tests.fyi definitions)', () => {
  let origin: ConformanceOrigin | undefined;
  let larder: Larder | undefined;
  let proxy: string;
  let control: string | undefined;

  beforeAll(async () => {
    if (external !== undefined) {
      proxy = external;
      return;
    }
    origin = await startConformanceOrigin();
    // Default settings: no routes, so no default TTL; only what the origin's headers allow is cached.
    larder = createLarder(buildConfig({ listen: '127.0.0.1:0', origin: origin.url, ...rules }, {}));
    const addr = await larder.listen(0, '127.0.0.1');
    proxy = `http://127.0.0.1:${addr.port}`;
    control = origin.url; // test set-up and origin state bypass the cache under test
  });

  afterAll(async () => {
    await larder?.close(1_000);
    await origin?.close();
  });

  it('passes every test in the baseline', { timeout: 150_000 }, async () => {
    const { suites, source } = await loadSuites(testsDir);
    const concurrency = Number.parseInt(env['LARDER_CONFORMANCE_CONCURRENCY'] ?? '25', 10);
    const report = await runConformance({
      suites,
      source,
      proxy,
      ...(control !== undefined ? { control } : {}),
      concurrency,
      ids,
    });
    await writeFile(OUT, `${JSON.stringify(report, null, 2)}\n`);

    const rows = countBySection(report);
    const failing = report.tests.filter((t) => t.outcome === 'fail');
    const lines = [
      `conformance: ${source} through ${external ?? `in-process larder (${rules ? 'with LARDER_CONFORMANCE_RULES' : 'default settings'})`}, ${(report.durationMs / 1000).toFixed(1)} s`,
      formatTable(rows),
      '',
      `failing required tests (${failing.length}):`,
      ...failing.map((t) => `  [${t.section}] ${t.id}: ${t.error ?? ''}`),
      `full results: ${OUT}`,
    ];
    console.log(lines.join('\n'));

    if (!canonical) {
      await checkPartialRun(report);
      return;
    }
    if (update) {
      const baseline = baselineOf(report);
      await writeFile(BASELINE, `${JSON.stringify(baseline, null, 2)}\n`);
      console.log(`baseline.json rewritten: ${Object.values(baseline).flat().length} passing tests`);
      return;
    }
    const baseline = JSON.parse(await readFile(BASELINE, 'utf8')) as Baseline;
    const lost = regressions(baseline, report);
    if (lost.length > 0) {
      console.log(`baseline tests that no longer pass (${lost.length}):\n${lost.map((t) => `  [${t.section}] ${t.id}: ${t.outcome} ${t.error ?? ''}`).join('\n')}`);
    }
    expect(lost.map((t) => `${t.section}/${t.id}: ${t.outcome} ${t.error ?? ''}`.trim())).toEqual([]);
  });
});
