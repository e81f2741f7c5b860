// Two builds of larder side by side, to judge a dependency upgrade: the MISS and pass-through
// rows against their ceilings, interleaved round by round in one run.
//
//   node bench/deps-compare.mjs --a DIR --b DIR [--node PATH] [--rounds 5] [--duration 4]
//
// DIR is a larder checkout with its own node_modules and a built dist/ (`npm ci && npm run
// build`). Starts on 127.0.0.1, with the Node at --node (default: this one): the bench origin,
// larder from each DIR and the undici `pool.stream` forwarder from each DIR (the ceiling for a
// Node hop with that DIR's undici). Each round runs every target once per row, in an order
// that alternates between rounds, with wrk (on PATH) in its own process. Rows:
//   miss  GET /nocache/1024/x  on a cacheable route: fetched through undici, not stored
//   pass  GET /pass/1024/x     on a `cache: false` route: relayed through undici
//   post  POST /pass/1024/x    with a 1 KB body: relayed through http-proxy-3
// Reports per target req/s, p99 and the process's own CPU µs per request (from /proc), and
// the median over rounds of B ÷ A (req/s, CPU µs/req) with the range.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuMs, freePort, sleep, start, stop, waitHttp } from './lib/procs.mjs';

const { values: flags } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    node: { type: 'string', default: process.execPath },
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '4' },
    rows: { type: 'string', default: 'miss,pass,post' },
  },
});
if (!flags.a || !flags.b) {
  console.error('usage: node bench/deps-compare.mjs --a DIR --b DIR [--node PATH] [--rounds 5] [--duration 4]');
  process.exit(2);
}
const ROUNDS = Math.min(Number(flags.rounds), 20);
const DURATION = Math.min(Number(flags.duration), 30);
const CONNECTIONS = 50;
const node = flags.node;
const dirs = { A: path.resolve(flags.a), B: path.resolve(flags.b) };

setTimeout(() => {
  console.error('deps-compare: time limit reached, exiting');
  process.exit(1);
}, 15 * 60_000).unref();

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-deps-'));
const postLua = path.join(tmp, 'post.lua');
fs.writeFileSync(postLua, `wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\nwrk.headers["Content-Type"] = "application/octet-stream"\n`);

function version(dir, pkg) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version;
}

async function startLarderIn(dir, originUrl) {
  const file = path.join(tmp, `rules-${path.basename(dir)}.yaml`);
  fs.writeFileSync(file, `origin: ${originUrl}\nroutes:\n  - name: pass\n    match: /pass/**\n    cache: false\ncache:\n  memory: { maxSize: 256mb }\n`);
  const port = await freePort();
  const child = start(node, ['bin/larder.js', '--config', file], {
    cwd: dir,
    env: { ...process.env, LARDER_LOG_LEVEL: 'warn', LARDER_LISTEN: `127.0.0.1:${port}` },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(url + '/__bench_ready');
  return { url, child };
}

async function startForwarderIn(dir, originUrl) {
  const port = await freePort();
  const child = start(node, ['bench/lib/forwarder.mjs', String(port), originUrl], { cwd: dir });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(url + '/__count');
  return { url, child };
}

/** One wrk run in its own process; req/s, p99 (ms), requests, errors. */
function wrk(url, seconds, lua) {
  return new Promise((resolve, reject) => {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '--timeout', '5s'];
    if (lua) args.push('-s', lua);
    const p = spawn('wrk', [...args, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (c) => (text += c));
    p.on('error', reject);
    p.on('exit', () => {
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
      const total = Number(/(\d+) requests in/.exec(text)?.[1]);
      const m = /99%\s+([\d.]+)(us|ms|s)\b/.exec(text);
      const p99 = m ? Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2]] : NaN;
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
      const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
      const errors = se ? se.slice(1).reduce((s, x) => s + Number(x), 0) : 0;
      if (!Number.isFinite(rps)) return reject(new Error(`wrk output not understood:\n${text}`));
      resolve({ rps, p99, total, non2xx, errors });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

async function main() {
  if (spawnSync('wrk', ['--version']).error) throw new Error('wrk is not on PATH');
  const originPort = await freePort();
  start(node, ['bench/lib/origin.mjs', String(originPort)]);
  const originUrl = `http://127.0.0.1:${originPort}`;
  await waitHttp(originUrl + '/__count');

  const targets = [];
  for (const k of ['A', 'B']) {
    const d = dirs[k];
    const undici = version(d, 'undici');
    const hp3 = version(d, 'http-proxy-3');
    const l = await startLarderIn(d, originUrl);
    targets.push({ label: `larder ${k} (undici ${undici}, http-proxy-3 ${hp3})`, key: `larder ${k}`, ...l });
    const fw = await startForwarderIn(d, originUrl);
    targets.push({ label: `forwarder ${k} (undici ${undici})`, key: `forwarder ${k}`, ...fw });
  }
  const nodeVersion = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  console.log(`# deps-compare: Node ${nodeVersion}; ${os.cpus()[0]?.model} × ${os.cpus().length}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`A = ${dirs.A}\nB = ${dirs.B}`);
  console.log(`wrk -t1 -c${CONNECTIONS}, ${ROUNDS} rounds × ${DURATION} s per target, order alternating between rounds, 1 s warm-up per target.\n`);

  const rows = {
    miss: { path: '/nocache/1024/x', lua: undefined, title: 'MISS: no-store GET, 1 KB (undici)' },
    pass: { path: '/pass/1024/x', lua: undefined, title: 'Pass-through GET, cache: false route, 1 KB (undici)' },
    post: { path: '/pass/1024/x', lua: postLua, title: 'Pass-through POST, 1 KB body each way (http-proxy-3)' },
  };
  for (const id of flags.rows.split(',')) {
    const row = rows[id];
    if (!row) continue;
    // The forwarder relays POST bodies too, but it is the ceiling of the GET rows only.
    const ts = id === 'post' ? targets.filter((t) => t.key.startsWith('larder')) : targets;
    for (const t of ts) await wrk(t.url + row.path, 1, row.lua);
    const runs = new Map(ts.map((t) => [t.key, []]));
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ts : [...ts].reverse();
      for (const t of order) {
        const c0 = cpuMs(t.child.pid);
        const res = await wrk(t.url + row.path, DURATION, row.lua);
        const c1 = cpuMs(t.child.pid);
        res.cpuUs = ((c1 - c0) * 1000) / res.total;
        runs.get(t.key).push(res);
        await sleep(200);
      }
    }
    console.log(`## ${row.title}\n`);
    console.log('| target | req/s (median) | p99 ms (median) | CPU µs/req (median) | non-2xx | errors |');
    console.log('|---|---|---|---|---|---|');
    for (const t of ts) {
      const rs = runs.get(t.key);
      console.log(
        `| ${t.label} | ${f(median(rs.map((x) => x.rps)))} | ${f(median(rs.map((x) => x.p99)), 2)} | ${f(median(rs.map((x) => x.cpuUs)), 1)} | ` +
          `${rs.reduce((s, x) => s + x.non2xx, 0)} | ${rs.reduce((s, x) => s + x.errors, 0)} |`,
      );
    }
    const ratio = (ka, kb, field) => {
      const a = runs.get(ka);
      const b = runs.get(kb);
      const rs = a.map((x, i) => b[i][field] / x[field]);
      return `${median(rs).toFixed(3)} (${Math.min(...rs).toFixed(3)}–${Math.max(...rs).toFixed(3)})`;
    };
    console.log();
    console.log(`B ÷ A per round, median (range): larder req/s ${ratio('larder A', 'larder B', 'rps')}, larder CPU µs/req ${ratio('larder A', 'larder B', 'cpuUs')}`);
    if (id !== 'post') {
      console.log(
        `forwarder req/s ${ratio('forwarder A', 'forwarder B', 'rps')}; larder ÷ forwarder req/s: A ${ratio('forwarder A', 'larder A', 'rps')}, B ${ratio('forwarder B', 'larder B', 'rps')}`,
      );
    }
    console.log();
  }
  for (const t of targets) await stop(t.child);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
