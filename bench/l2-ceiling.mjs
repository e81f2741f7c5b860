// L2 HIT against its ceiling: larder with a memory tier too small to hold the entry (every hit
// reads Redis) against the minimal ioredis reader (bench/lib/redis-reader.mjs), both answering
// the same 1000-byte body from the same redis-server, measured out of process with wrk.
//
//   npm run build && flock /tmp/bench.lock node bench/l2-ceiling.mjs [--rounds 5] [--duration 5]
//   npm run build && flock /tmp/bench.lock node bench/l2-ceiling.mjs --profile   # CPU profile of larder's L2 HIT
//   ... --with-l1   # also larder with a memory tier that holds the entry, and the bare server
//   ... --baseline DIR   # also the larder built in DIR (another checkout, after its own build), same config
//
// Each round runs `wrk -t1 -c50 -dNs` once against each target, the order alternating between
// rounds. The ratio is larder's req/s over the reader's in the same round; the median and range
// over rounds are printed. CPU µs/req is each target process's own CPU time (user + system, from
// /proc) over the requests wrk counted: unlike req/s it does not depend on what else the cores
// were doing. Redis commands per request are counted on larder's runs (INFO stats).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { aggregate, formatMarkdown } from './lib/cpuprofile.mjs';
import os from 'node:os';
import { cpuMs, freePort, sleep, start, startLarder, startRedis, stop, waitHttp } from './lib/procs.mjs';

const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    profile: { type: 'boolean', default: false },
    'with-l1': { type: 'boolean', default: false },
    baseline: { type: 'string' },
  },
});
const ROUNDS = Math.max(1, Number(flags.rounds));
const DURATION = Math.min(5, Math.max(1, Number(flags.duration)));
const PATH = '/b/1000/hot';
// Bounded whatever happens: children are killed on exit (procs.mjs).
setTimeout(() => {
  console.error('l2-ceiling: giving up after 4 minutes');
  process.exit(1);
}, 4 * 60_000).unref();

if (spawnSync('sh', ['-c', 'command -v wrk']).status !== 0) {
  console.error('wrk is not on PATH');
  process.exit(2);
}

const originPort = await freePort();
const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)]);
const originUrl = `http://127.0.0.1:${originPort}`;
await waitHttp(originUrl + '/__count');
const redis = await startRedis();

/** The routes of bench/run.mjs (LARDER_BASE) and the L2 cache block of its "L2 HIT" section. */
const RULES = `origin: ${originUrl}
routes:
  - name: pass
    match: /pass/**
    cache: false
cache:
  memory: { maxSize: 1kb, maxEntrySize: 1kb }
  redis: { url: ${redis.url}, commandTimeout: 50ms }
`;

function fetchOnce(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode, xcache: res.headers['x-cache'], length: res.headers['content-length'] }));
      })
      .on('error', reject);
  });
}

/** One wrk run: req/s, requests, non-2xx count and socket errors. */
function wrk(url) {
  const r = spawnSync('wrk', ['-t1', '-c50', `-d${DURATION}s`, url], { encoding: 'utf8', timeout: (DURATION + 10) * 1000 });
  const text = r.stdout ?? '';
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const total = Number(/(\d+) requests in/.exec(text)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const errors = /Socket errors: (.*)/.exec(text)?.[1];
  if (!(rps > 0)) throw new Error(`wrk gave no figure:\n${text}\n${r.stderr}`);
  return { rps, total, non2xx, errors };
}

function redisCommands() {
  const out = spawnSync('redis-cli', ['-p', String(redis.port), 'INFO', 'stats'], { encoding: 'utf8' }).stdout;
  return Number(/total_commands_processed:(\d+)/.exec(out)?.[1]);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** larder from another checkout (its bin/larder.js and dist/), as startLarder starts this one. */
async function startOther(dir, rulesYaml) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'larder-bench-')), 'rules.yaml');
  fs.writeFileSync(file, rulesYaml);
  const port = await freePort();
  const child = start(process.execPath, [path.resolve(dir, 'bin/larder.js'), '--config', file], {
    env: { ...process.env, LARDER_LOG_LEVEL: 'warn', LARDER_LISTEN: `127.0.0.1:${port}` },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(url + '/__bench_ready');
  return { url, port, child };
}

async function profile() {
  const dir = `/tmp/larder-prof/l2-ceiling-${Date.now()}`;
  fs.mkdirSync(dir, { recursive: true });
  const l = await startLarder(RULES, { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'] });
  const first = await fetchOnce(l.url + PATH);
  await fetchOnce(l.url + PATH);
  const r = wrk(l.url + PATH);
  await stop(l.child);
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  console.log(`# larder L2 HIT profile, node ${process.version}\n`);
  console.log(`wrk -t1 -c50 -d${DURATION}s ${PATH}: ${r.rps.toFixed(0)} req/s with the profiler on (first answer ${first.status}). Profile: ${dir}/${file}\n`);
  if (file) console.log(formatMarkdown(aggregate(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'))), 25));
}

async function compare() {
  const l2 = await startLarder(RULES);
  const rrPort = await freePort();
  const rrChild = start(process.execPath, ['bench/lib/redis-reader.mjs', String(rrPort), redis.url]);
  const reader = { label: 'ioredis reader', url: `http://127.0.0.1:${rrPort}`, pid: rrChild.pid };
  await waitHttp(reader.url + '/b/1000/ready');
  const larder = { label: 'larder L2', url: l2.url, pid: l2.child.pid };
  // Fill Redis through larder, then check that larder answers from it.
  await fetchOnce(larder.url + PATH);
  await sleep(100);
  const check = await fetchOnce(larder.url + PATH);
  if (check.status !== 200 || check.xcache !== 'HIT' || check.length !== '1000') throw new Error(`larder L2 answered ${JSON.stringify(check)}`);
  await fetchOnce(reader.url + PATH);
  // A short warm-up of each, not counted.
  for (const t of [larder, reader]) spawnSync('wrk', ['-t1', '-c50', '-d1s', t.url + PATH]);

  const extra = [];
  if (flags.baseline) {
    // Its own key prefix: its format may differ, and the two must not replace each other's value.
    const base = await startOther(flags.baseline, RULES.replace('commandTimeout: 50ms }', 'commandTimeout: 50ms, prefix: "baseline:" }'));
    await fetchOnce(base.url + PATH);
    await sleep(100);
    const c = await fetchOnce(base.url + PATH);
    if (c.xcache !== 'HIT') throw new Error(`baseline larder answered ${JSON.stringify(c)}`);
    extra.push({ label: `larder L2 (${path.basename(path.resolve(flags.baseline))})`, url: base.url, pid: base.child.pid, child: base.child });
  }
  if (flags['with-l1']) {
    const l1 = await startLarder(RULES.replace(/cache:\n[\s\S]*$/, 'cache:\n  memory: { maxSize: 256mb }\n'));
    await fetchOnce(l1.url + PATH);
    const barePort = await freePort();
    const bareChild = start(process.execPath, ['bench/lib/bare.mjs', String(barePort)]);
    await waitHttp(`http://127.0.0.1:${barePort}/b/1/ready`);
    extra.push({ label: 'larder L1', url: l1.url, pid: l1.child.pid, child: l1.child }, { label: 'bare node:http', url: `http://127.0.0.1:${barePort}`, pid: bareChild.pid, child: bareChild });
  }
  for (const t of extra) spawnSync('wrk', ['-t1', '-c50', '-d1s', t.url + PATH]);
  const rows = { [larder.label]: [], [reader.label]: [] };
  for (const t of extra) rows[t.label] = [];
  const ratios = [];
  const rounds = [];
  let cmds = 0;
  let larderRequests = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [larder, reader, ...extra] : [...extra, reader, larder];
    const got = {};
    for (const t of order) {
      const c0 = cpuMs(t.pid);
      const r0 = t === larder ? redisCommands() : 0;
      const r = wrk(t.url + PATH);
      const c1 = cpuMs(t.pid);
      if (t === larder) {
        cmds += redisCommands() - r0 - 1;
        larderRequests += r.total;
      }
      got[t.label] = { ...r, cpuUs: ((c1 - c0) * 1000) / r.total };
      rows[t.label].push(got[t.label]);
    }
    const ratio = got[larder.label].rps / got[reader.label].rps;
    ratios.push(ratio);
    rounds.push(got);
    console.error(
      `round ${round + 1}: larder ${got[larder.label].rps.toFixed(0)} req/s ${got[larder.label].cpuUs.toFixed(1)} µs/req; ` +
        `reader ${got[reader.label].rps.toFixed(0)} req/s ${got[reader.label].cpuUs.toFixed(1)} µs/req; ratio ${ratio.toFixed(3)}`,
    );
  }
  const after = await fetchOnce(larder.url + PATH);
  console.log(`# L2 HIT against the ioredis reader, ${new Date().toISOString()}\n`);
  console.log(
    `node ${process.version}; wrk -t1 -c50 -d${DURATION}s http://127.0.0.1:PORT${PATH}; ${ROUNDS} interleaved rounds. ` +
      `larder answers ${after.status} ${after.xcache}; Redis commands per larder request: ${(cmds / larderRequests).toFixed(2)}.\n`,
  );
  console.log('| target | req/s (median) | req/s (range) | CPU µs/req (median) | CPU µs/req (range) | non-2xx |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [label, xs] of Object.entries(rows)) {
    const rps = xs.map((x) => x.rps);
    const cpu = xs.map((x) => x.cpuUs);
    console.log(
      `| ${label} | ${median(rps).toFixed(0)} | ${Math.min(...rps).toFixed(0)}–${Math.max(...rps).toFixed(0)} | ` +
        `${median(cpu).toFixed(1)} | ${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)} | ${xs.reduce((s, x) => s + x.non2xx, 0)} |`,
    );
  }
  const cpuRatio = median(rows[reader.label].map((x) => x.cpuUs)) / median(rows[larder.label].map((x) => x.cpuUs));
  console.log(
    `\nlarder ÷ reader, req/s: median ${median(ratios).toFixed(3)} (range ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}); ` +
      `CPU per request, reader ÷ larder: ${cpuRatio.toFixed(3)}.`,
  );
  for (const t of extra) {
    const rps = rounds.map((g) => g[larder.label].rps / g[t.label].rps);
    const cpu = rounds.map((g) => g[larder.label].cpuUs / g[t.label].cpuUs);
    const toReader = rounds.map((g) => g[t.label].rps / g[reader.label].rps);
    console.log(
      `larder L2 ÷ ${t.label}, per round: req/s ${median(rps).toFixed(3)} (${Math.min(...rps).toFixed(3)}–${Math.max(...rps).toFixed(3)}), ` +
        `CPU µs/req ${median(cpu).toFixed(3)} (${Math.min(...cpu).toFixed(3)}–${Math.max(...cpu).toFixed(3)}); ` +
        `${t.label} ÷ reader, req/s: ${median(toReader).toFixed(3)} (${Math.min(...toReader).toFixed(3)}–${Math.max(...toReader).toFixed(3)}).`,
    );
  }
  await stop(rrChild);
  await stop(l2.child);
  for (const t of extra) await stop(t.child);
}

try {
  if (flags.profile) await profile();
  else await compare();
} finally {
  await stop(redis.child);
  await stop(origin);
}
process.exit(0);
