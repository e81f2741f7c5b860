// HTTP/2 HIT row: the same cached 1 KB key served by one larder over HTTP/1.1 (plain), HTTP/1.1
// over TLS and HTTP/2 over TLS, measured with h2load (nghttp2-client) in its own process.
//
//   npm run build && flock /tmp/bench.lock node bench/h2.mjs [--quick] [--no-write]
//
// Writes bench/results/h2-<date>.md and h2-latest.md. See bench/README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMs, freePort, start, stop, waitHttp } from './lib/procs.mjs';

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'no-write': { type: 'boolean', default: false } } });
const ROUNDS = flags.quick ? 2 : 5;
const REQUESTS = flags.quick ? 20_000 : 100_000;
const CONNECTIONS = 50;
const STREAMS = 10;
const KEY = '/b/1024/hot';

setTimeout(() => {
  console.error('bench: time limit reached, exiting');
  process.exit(1);
}, 10 * 60_000).unref();

if (spawnSync('h2load', ['--version']).status !== 0) {
  console.error('bench/h2.mjs needs h2load (apt-get install nghttp2-client)');
  process.exit(2);
}

const lines = [];
const out = (l = '') => lines.push(l);

function h2load(args) {
  const r = spawnSync('h2load', args, { encoding: 'utf8' });
  const text = r.stdout ?? '';
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(text)?.[1] ?? NaN);
  const done = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(text);
  const two = Number(/status codes: (\d+) 2xx/.exec(text)?.[1] ?? NaN);
  const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(text)?.[1] ?? '?';
  return { rps, succeeded: Number(done?.[2] ?? NaN), failed: Number(done?.[3] ?? NaN), two, mean };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-bench-h2-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  const originPort = await freePort();
  const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)]);
  const originUrl = `http://127.0.0.1:${originPort}`;
  await waitHttp(originUrl + '/__count');
  const plain = await freePort();
  const secure = await freePort();
  const rules = path.join(dir, 'rules.yaml');
  fs.writeFileSync(rules, `listen:\n  - 127.0.0.1:${plain}\n  - address: 127.0.0.1:${secure}\n    tls: { cert: cert.pem, key: key.pem }\n    http2: true\norigin: ${originUrl}\ncache:\n  memory: { maxSize: 256mb }\n`);
  const env = { ...process.env, LARDER_LOG_LEVEL: 'warn' };
  delete env.LARDER_LISTEN;
  const larder = start(process.execPath, ['bin/larder.js', '--config', rules], { env });
  await waitHttp(`http://127.0.0.1:${plain}/__bench_ready`);

  const targets = [
    { label: 'HTTP/1.1, plain', args: ['--h1', `http://127.0.0.1:${plain}${KEY}`], streams: 1 },
    { label: 'HTTP/1.1 over TLS', args: ['--h1', `https://127.0.0.1:${secure}${KEY}`], streams: 1 },
    { label: `HTTP/2 over TLS, ${STREAMS} streams/conn`, args: ['-m', String(STREAMS), `https://127.0.0.1:${secure}${KEY}`], streams: STREAMS },
  ];
  // Fill the key (one per authority), then warm up each target.
  for (const t of targets) h2load([...t.args.slice(0, -1), '-n', '200', '-c', '2', t.args.at(-1)]);
  const before = Number(await (await fetch(originUrl + '/__count')).text());
  const runs = new Map(targets.map((t) => [t.label, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) {
      const cpu0 = cpuMs(larder.pid);
      const r = h2load([...t.args.slice(0, -1), '-n', String(REQUESTS), '-c', String(CONNECTIONS), t.args.at(-1)]);
      const cpu = cpuMs(larder.pid) - cpu0;
      runs.get(t.label).push({ ...r, cpuUs: (cpu * 1000) / r.succeeded });
      console.error(`bench: round ${round + 1} ${t.label}: ${r.rps.toFixed(0)} req/s`);
    }
  }
  const after = Number(await (await fetch(originUrl + '/__count')).text());
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const ref = runs.get(targets[0].label);
  out(`# larder HTTP/2 HIT bench, ${new Date().toISOString().slice(0, 10)}${flags.quick ? ' (quick)' : ''}`);
  out();
  const cpus = os.cpus();
  out(`${cpus[0]?.model ?? 'unknown CPU'} × ${cpus.length}; Node ${process.version}; ${spawnSync('h2load', ['--version'], { encoding: 'utf8' }).stdout.trim()}; load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}.`);
  out(
    `h2load in its own process, ${CONNECTIONS} connections, ${REQUESTS} requests per run, ${ROUNDS} interleaved rounds; one larder ` +
      `(memory tier) with a plain listener and a TLS listener with http2: true (ECDSA P-256 certificate). One cached 1 KB key \`${KEY}\` ` +
      `per authority: every measured request is an L1 HIT. req/s is the median over rounds; "÷ plain" the median of per-round ratios; ` +
      `CPU µs/req is larder's own CPU time per request (from /proc). TLS handshakes are part of each run (one per connection).`,
  );
  out();
  out('| protocol | req/s | ÷ HTTP/1.1 plain | mean latency | CPU µs/req | non-2xx or failed |');
  out('|---|---:|---:|---:|---:|---:|');
  for (const t of targets) {
    const rs = runs.get(t.label);
    const ratio = median(rs.map((r, i) => r.rps / ref[i].rps));
    const bad = rs.reduce((s, r) => s + (r.succeeded - r.two) + r.failed, 0);
    out(`| ${t.label} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${ratio.toFixed(2)} | ${rs.at(-1).mean} | ${median(rs.map((r) => r.cpuUs)).toFixed(1)} | ${bad} |`);
  }
  out();
  out(`Origin requests during the measured runs: ${after - before} (every answer a HIT).`);
  await stop(larder);
  await stop(origin);
  fs.rmSync(dir, { recursive: true, force: true });
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  if (!flags['no-write']) {
    const name = `h2-${new Date().toISOString().slice(0, 10)}${flags.quick ? '-quick' : ''}.md`;
    fs.writeFileSync(path.join('bench/results', name), text);
    fs.writeFileSync(path.join('bench/results', flags.quick ? 'h2-latest-quick.md' : 'h2-latest.md'), text);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
