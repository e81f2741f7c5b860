import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startOrigin, type Origin } from '../helpers/origin.js';
import { get, sleep } from '../helpers/client.js';
import { freePort, waitFor } from '../helpers/redis.js';

const BIN = join(process.cwd(), 'bin/larder.js');
let origin: Origin | undefined;
let child: ChildProcess | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }
  child = undefined;
  await origin?.close();
  origin = undefined;
});

interface Started {
  url: string;
  admin: string;
  file: string;
  out: () => string;
  exit: Promise<number | null>;
}

/** Starts the built larder with the given rules (listen and admin ports are filled in). */
async function cli(rules: (ports: { port: number; admin: number }) => string, args: string[] = []): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'larder-ops-'));
  const file = join(dir, 'rules.yaml');
  const ports = { port: await freePort(), admin: await freePort() };
  writeFileSync(file, rules(ports));
  let out = '';
  child = spawn(process.execPath, [BIN, '--config', file, ...args], { env: { ...process.env, LARDER_LOG_LEVEL: 'info' } });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${ports.port}`;
  await waitFor(
    async () => {
      try {
        await get(url, '/__probe');
        return true;
      } catch {
        return false;
      }
    },
    30_000,
    `larder on ${url}; output so far:\n${out}`,
  );
  return { url, admin: `http://127.0.0.1:${ports.admin}`, file, out: () => out, exit };
}

/** Replaces the file the way editors do: write a new one, rename it over the old. */
function replace(file: string, text: string): void {
  writeFileSync(file + '.tmp', text);
  renameSync(file + '.tmp', file);
}

const rulesWith = (route: string) => (p: { port: number; admin: number }) => `listen: 127.0.0.1:${p.port}
origin: ${origin!.url}
admin: { listen: 127.0.0.1:${p.admin}, token: t0ken }
log: { access: { sample: 0 } }
shutdownGrace: 5s
routes:
${route}
`;

describe('hot reload', () => {
  it('applies a changed route to new requests without failing any request, and rejects a bad file', async () => {
    origin = await startOrigin((_req, res, n) => res.end(`n${n}`));
    const cached = '  - { name: r, match: /r/**, ttl: 1h }';
    const s = await cli(rulesWith(cached));
    expect((await get(s.url, '/r/a')).h('x-cache')).toBe('MISS');
    expect((await get(s.url, '/r/a')).h('x-cache')).toBe('HIT');

    const statuses: number[] = [];
    let stop = false;
    const loop = (async () => {
      // At least 20 requests whatever the machine's speed, the reload falling among them.
      for (let i = 0; i < 2_000 && (!stop || i < 20); i++) statuses.push((await get(s.url, `/r/${i % 10}`)).status);
    })();
    await sleep(100);
    replace(s.file, rulesWith('  - { name: r, match: /r/**, cache: false }')({ port: Number(new URL(s.url).port), admin: Number(new URL(s.admin).port) }));
    await waitFor(async () => (await get(s.url, '/r/a')).h('x-cache') === 'BYPASS', 5_000, 'the reload');
    stop = true;
    await loop;
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((x) => x !== 200)).toEqual([]);
    await waitFor(() => s.out().includes('rules reloaded'), 3_000, 'the reload line');

    replace(s.file, 'routes: [ this is: not yaml\n');
    await waitFor(() => s.out().includes('reload rejected'), 5_000, 'the rejection');
    expect((await get(s.url, '/r/a')).h('x-cache')).toBe('BYPASS');
    const metrics = await (await fetch(s.admin + '/metrics')).text();
    expect(metrics).toMatch(/larder_config_reloads_total\{result="error"\} [1-9]/);
    expect(metrics).toMatch(/larder_config_reloads_total\{result="ok"\} [1-9]/);
  });

  it('counts a bad file once when the file watch and SIGHUP both retry it', async () => {
    origin = await startOrigin((_req, res) => res.end('x'));
    const s = await cli(rulesWith('  - { name: r, match: /r/** }'));
    replace(s.file, 'routes: [ this is: not yaml\n');
    await waitFor(() => s.out().includes('reload rejected'), 5_000, 'the rejection by the file watch');
    child!.kill('SIGHUP');
    await waitFor(() => s.out().includes('reload rejected again'), 5_000, 'the SIGHUP retry');
    const metrics = await (await fetch(s.admin + '/metrics')).text();
    expect(metrics).toContain('larder_config_reloads_total{result="error"} 1');
    expect(metrics).toContain('larder_config_reloads_total{result="ok"} 0');
    const status = (await (await fetch(s.admin + '/status', { headers: { authorization: 'Bearer t0ken' } })).json()) as { events: Array<{ kind: string; result: string }> };
    expect(status.events.map((e) => `${e.kind} ${e.result}`)).toEqual(['reload error']);
  });

  it('with reload.watch: false, reloads only on SIGHUP', async () => {
    origin = await startOrigin((_req, res) => {
      res.setHeader('cache-control', 'max-age=60');
      res.end('x');
    });
    const rules = (route: string) => (p: { port: number; admin: number }) => rulesWith(route)(p).replace('shutdownGrace: 5s', 'shutdownGrace: 5s\nreload: { watch: false }');
    const s = await cli(rules('  - { name: r, match: /r/** }'));
    const ports = { port: Number(new URL(s.url).port), admin: Number(new URL(s.admin).port) };
    replace(s.file, rules('  - { name: r, match: /r/**, cache: false }')(ports));
    await sleep(800); // longer than the watch's debounce: nothing may happen
    expect((await get(s.url, '/r/a')).h('x-cache')).toBe('MISS');
    expect(s.out()).not.toContain('rules reloaded');
    child!.kill('SIGHUP');
    await waitFor(async () => (await get(s.url, '/r/a')).h('x-cache') === 'BYPASS', 5_000, 'the SIGHUP reload');
  });

  it('reloads on SIGHUP and says which settings need a restart', async () => {
    origin = await startOrigin((_req, res) => res.end('x'));
    const s = await cli(rulesWith('  - { name: r, match: /r/** }'));
    const ports = { port: Number(new URL(s.url).port), admin: Number(new URL(s.admin).port) };
    writeFileSync(s.file, rulesWith('  - { name: r, match: /r/**, ttl: 1m }')(ports).replace('shutdownGrace: 5s', 'shutdownGrace: 5s\ncache: { maxVariants: 3 }'));
    child!.kill('SIGHUP');
    await waitFor(() => s.out().includes('restart to apply cache.maxVariants'), 5_000, 'the reload line');
  });
});

describe('graceful shutdown', () => {
  it('lets a slow request in flight complete on SIGTERM, then exits 0', async () => {
    origin = await startOrigin((_req, res) => {
      setTimeout(() => res.end('finished'), 700);
    });
    const s = await cli(rulesWith('  - { name: r, match: /r/**, cache: false }'));
    const slow = get(s.url, '/slow');
    await sleep(150);
    child!.kill('SIGTERM');
    const r = await slow;
    expect([r.status, r.body]).toEqual([200, 'finished']);
    expect(await s.exit).toBe(0);
    expect(s.out()).toContain('shutting down');
  });
});

describe('--workers 2 without Redis', () => {
  it('serves, coalesces across workers, purges in every worker, and aggregates metrics', async () => {
    origin = await startOrigin((req, res) => {
      const n = origin!.count(req.url);
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=600');
        res.end(`v${n}`);
      }, 200);
    });
    const s = await cli(rulesWith('  - { name: r, match: /r/** }'), ['--workers', '2']);
    await sleep(300); // both workers listening
    const first = await Promise.all(Array.from({ length: 100 }, () => get(s.url, '/r/hot')));
    expect(first.map((r) => `${r.status} ${r.body}`)).toEqual(Array(100).fill('200 v1'));
    expect(origin.count('/r/hot')).toBe(1);

    const res = await fetch(s.admin + '/purge', {
      method: 'POST',
      headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
      body: JSON.stringify({ urls: ['/r/hot'] }),
    });
    expect(res.status).toBe(200);
    const second = await Promise.all(Array.from({ length: 100 }, () => get(s.url, '/r/hot')));
    expect(second.every((r) => r.body === 'v2')).toBe(true);
    expect(origin.count('/r/hot')).toBe(2);

    const metrics = await (await fetch(s.admin + '/metrics')).text();
    const total = [...metrics.matchAll(/^larder_requests_total\{[^}]*route="r"[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(total).toBe(200);
    // Histograms are summed across workers too: per result, cumulative buckets ending at the count.
    const series = (name: string, cache: string) =>
      [...metrics.matchAll(new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].filter((m) => m[1]!.includes('route="r"') && m[1]!.includes(`cache="${cache}"`)).map((m) => [m[1]!, Number(m[2])] as const);
    let counted = 0;
    for (const cache of ['hit', 'miss', 'stale', 'revalidated', 'bypass']) {
      const buckets = series('larder_request_duration_seconds_bucket', cache);
      expect(buckets.map(([labels]) => /le="([^"]+)"/.exec(labels)![1])).toEqual(['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf']);
      const values = buckets.map(([, v]) => v);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      const [count] = series('larder_request_duration_seconds_count', cache);
      expect(values.at(-1)).toBe(count![1]);
      counted += count![1];
    }
    expect(counted).toBe(200);
    // The primary's /status sums the workers'.
    const status = (await (await fetch(s.admin + '/status', { headers: { authorization: 'Bearer t0ken' } })).json()) as { workers: number; totals: { requests: number; routes: Record<string, { requests: number }> } };
    expect(status.workers).toBe(2);
    expect(status.totals.routes['r']?.requests).toBe(200);
    child!.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });

  it('hands every fill to every worker: one origin request per key, after a purge too', async () => {
    origin = await startOrigin((req, res) => {
      const n = origin!.count(req.url);
      res.setHeader('cache-control', 'max-age=600');
      res.end(`${req.url} v${n}`);
    });
    const s = await cli(rulesWith('  - { name: r, match: /r/** }'), ['--workers', '2']);
    await sleep(300); // both workers listening
    // Each request on a connection of its own: the primary deals connections to the workers in turn.
    const fresh = (path: string) =>
      new Promise<{ status: number; body: string; xCache: string }>((resolve, reject) => {
        http
          .get(s.url + path, { agent: false, headers: { connection: 'close' } }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, xCache: String(res.headers['x-cache'] ?? '') }));
          })
          .on('error', reject);
      });
    const keys = Array.from({ length: 10 }, (_, i) => `/r/k${i}`);
    const round = async (version: number) => {
      for (const k of keys) {
        expect((await fresh(k)).body).toBe(`${k} v${version}`);
        await sleep(50); // the fill reaches the other worker over IPC
        for (let i = 0; i < 4; i++) expect(await fresh(k)).toMatchObject({ status: 200, body: `${k} v${version}`, xCache: 'HIT' });
      }
      for (const k of keys) expect(origin!.count(k)).toBe(version);
    };
    await round(1);
    const res = await fetch(s.admin + '/purge', {
      method: 'POST',
      headers: { authorization: 'Bearer t0ken', 'content-type': 'application/json' },
      body: JSON.stringify({ urls: keys }),
    });
    expect(res.status).toBe(200);
    await round(2);
    child!.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });
});
