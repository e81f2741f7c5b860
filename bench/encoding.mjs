// Content coding, measured in one run with interleaved rounds (ratios are what matter):
//   1. L1 HIT req/s and bytes on the wire for a 100 KB JSON body: br and gzip clients (and an
//      identity client of the compressing instance) against today's identity (compression off);
//   2. the compression ratio of the stored bytes;
//   3. the MISS cost with compression on and off (sequential MISSes, interleaved);
//   4. event-loop lag while 1 MB JSON MISSes are compressed: the slowest small HIT answered
//      by the same larder during those MISSes, with compression on and off.
// larder and the origin run in child processes; the load generator is wrk (its own process)
// when /usr/bin/wrk exists, else autocannon in a child process.
//   npm run bench:encoding [-- --rounds N --duration S]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import zlib from 'node:zlib';
import { Agent, request } from 'undici';
import { freePort, start, startLarder, stop, waitHttp } from './lib/procs.mjs';

const arg = (name, def) => {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const ROUNDS = arg('--rounds', 3);
const DURATION = arg('--duration', 3);
const MISSES = arg('--misses', 40);
const CONNECTIONS = 50;
const WRK = fs.existsSync('/usr/bin/wrk') ? '/usr/bin/wrk' : undefined;

const originPort = await freePort();
const origin = start(process.execPath, ['bench/lib/json-origin.mjs', String(originPort)]);
const originUrl = `http://127.0.0.1:${originPort}`;
await waitHttp(originUrl + '/json/10/ready');
const base = `origin: ${originUrl}\nlog: { level: warn, requests: 0 }\n`;
const on = await startLarder(base + 'cache:\n  memory: { maxSize: 256mb, maxEntrySize: 8mb }\n');
const off = await startLarder(base + 'cache:\n  memory: { maxSize: 256mb, maxEntrySize: 8mb }\n  compression: { codings: [] }\n');
const agent = new Agent({ connections: 4 });

/** One request's exact bytes on the wire (status line, fields and body), on a connection of its own. */
function wire(url, path, ae) {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(port), '127.0.0.1');
    let n = 0;
    sock.on('data', (d) => (n += d.length));
    sock.on('error', reject);
    sock.on('close', () => resolve(n));
    sock.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\n${ae ? `Accept-Encoding: ${ae}\r\n` : ''}Connection: close\r\n\r\n`);
  });
}

async function get(url, path, ae) {
  const r = await request(url + path, { headers: { host: 'bench', ...(ae ? { 'accept-encoding': ae } : {}) }, dispatcher: agent });
  const body = Buffer.from(await r.body.arrayBuffer());
  return { status: r.statusCode, headers: r.headers, body };
}

/** One load run against `url` with `ae`; req/s and bytes read per response. */
function load(url, path, ae) {
  if (WRK) {
    const args = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', '-H', 'Host: bench'];
    if (ae) args.push('-H', `Accept-Encoding: ${ae}`);
    const out = spawnSync(WRK, [...args, url + path], { encoding: 'utf8' }).stdout;
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    const m = /(\d+) requests in [\d.]+\w+, ([\d.]+)(\w+) read/.exec(out);
    const unit = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }[m?.[3]] ?? NaN;
    const p99 = /99%\s+([\d.]+)(\w+)/.exec(out);
    const p99ms = p99 ? Number(p99[1]) * ({ us: 0.001, ms: 1, s: 1000 }[p99[2]] ?? NaN) : NaN;
    if (/Non-2xx/.test(out) || /Socket errors/.test(out)) throw new Error(`wrk reported errors:\n${out}`);
    return { rps, perResponse: (Number(m?.[2]) * unit) / Number(m?.[1]), p99: p99ms };
  }
  const script = `import autocannon from 'autocannon';
autocannon({ url: ${JSON.stringify(url + path)}, connections: ${CONNECTIONS}, duration: ${DURATION}, headers: ${JSON.stringify({ host: 'bench', ...(ae ? { 'accept-encoding': ae } : {}) })} }, (e, r) => {
  process.stdout.write(JSON.stringify({ rps: r.requests.average, perResponse: r.throughput.total / r.requests.total, p99: r.latency.p99, bad: r.non2xx + r.errors }));
});`;
  const out = JSON.parse(spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).stdout);
  if (out.bad) throw new Error(`autocannon: ${out.bad} non-2xx or errors`);
  return out;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;

// 1 and 2: 100 KB JSON, L1 hits.
const PATH = '/json/102400/hit';
const cases = [
  ['identity, compression off (today)', off.url, undefined],
  ['br client (Chrome)', on.url, 'gzip, deflate, br, zstd'],
  ['gzip client (Go)', on.url, 'gzip'],
  ['identity client, compression on', on.url, undefined],
];
const plain = await get(off.url, PATH);
for (const [, url, ae] of cases) {
  await get(url, PATH, ae);
  await get(url, PATH, ae); // the copy for other codings is made by the first such request
}
const br = await get(on.url, PATH, 'br');
const gz = await get(on.url, PATH, 'gzip');
const same = (r) => {
  const ce = r.headers['content-encoding'];
  const body = ce === 'br' ? zlib.brotliDecompressSync(r.body) : ce === 'gzip' ? zlib.gunzipSync(r.body) : r.body;
  return body.equals(plain.body);
};
if (!same(br) || !same(gz) || br.headers['content-encoding'] !== 'br' || gz.headers['content-encoding'] !== 'gzip') throw new Error('the encoded bodies do not decode to the origin body');

const wireBytes = new Map();
for (const [name, url, ae] of cases) wireBytes.set(name, await wire(url, PATH, ae));

const results = new Map(cases.map(([name]) => [name, []]));
for (const [, url, ae] of cases) load(url, PATH, ae); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, url, ae] of round % 2 === 0 ? cases : [...cases].reverse()) results.get(name).push(load(url, PATH, ae));
}

console.log(`# Content coding: 100 KB JSON (${plain.body.length} bytes), L1 HIT`);
console.log(`\n${ROUNDS} interleaved rounds of ${DURATION} s, ${CONNECTIONS} connections, load from ${WRK ? 'wrk -t1' : 'autocannon (child process)'}; Node ${process.version}\n`);
console.log('| client | req/s (mean) | p99 ms | bytes on the wire per response | ÷ today req/s (median per round) |');
console.log('|---|---:|---:|---:|---:|');
const today = results.get(cases[0][0]);
for (const [name] of cases) {
  const rs = results.get(name);
  const ratio = median(rs.map((r, i) => r.rps / today[i].rps));
  console.log(`| ${name} | ${mean(rs.map((r) => r.rps)).toFixed(0)} | ${mean(rs.map((r) => r.p99)).toFixed(1)} | ${wireBytes.get(name)} | ${ratio.toFixed(2)} |`);
}
console.log(`\nCompression ratio (stored bytes ÷ origin bytes): br (quality 5) ${(br.body.length / plain.body.length).toFixed(3)} (${kb(br.body.length)}), gzip (level 6) ${(gz.body.length / plain.body.length).toFixed(3)} (${kb(gz.body.length)}), origin ${kb(plain.body.length)}`);

// 3: MISS cost, sequential, interleaved in blocks.
async function missTimes(url, tag, size, n, round) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await get(url, `/json/${size}/miss-${tag}-${round}-${i}`, 'gzip, deflate, br');
    if (r.status !== 200) throw new Error(`MISS ${r.status}`);
    out.push(performance.now() - t);
  }
  return out;
}
console.log(`\n## MISS cost (${MISSES} sequential MISSes per block, br client, ${ROUNDS} interleaved rounds)\n`);
console.log('| body | compression off p50 ms | on p50 ms | off p99 ms | on p99 ms | on − off p50 |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const size of [102400, 1048576]) {
  const offT = [];
  const onT = [];
  const n = size > 200_000 ? Math.max(10, MISSES >> 2) : MISSES;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [['off', off.url, offT], ['on', on.url, onT]] : [['on', on.url, onT], ['off', off.url, offT]];
    for (const [tag, url, into] of order) into.push(...(await missTimes(url, `${tag}${size}`, size, n, round)));
  }
  const p = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
  console.log(`| ${kb(size)} | ${p(offT, 0.5).toFixed(2)} | ${p(onT, 0.5).toFixed(2)} | ${p(offT, 0.99).toFixed(2)} | ${p(onT, 0.99).toFixed(2)} | ${(p(onT, 0.5) - p(offT, 0.5)).toFixed(2)} |`);
}

// 4: event-loop lag of the larder process during 1 MB MISSes, seen as the slowest small HIT.
async function lagDuring(url, tag, round) {
  await get(url, '/json/512/probe');
  let worst = 0;
  let done = false;
  const probe = (async () => {
    const probeAgent = new Agent({ connections: 1 });
    while (!done) {
      const t = performance.now();
      const r = await request(url + '/json/512/probe', { headers: { host: 'bench' }, dispatcher: probeAgent });
      await r.body.dump();
      worst = Math.max(worst, performance.now() - t);
    }
    await probeAgent.close();
  })();
  for (let i = 0; i < 6; i++) await get(url, `/json/1048576/lag-${tag}-${round}-${i}`, 'br');
  done = true;
  await probe;
  return worst;
}
const lag = { on: [], off: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const tag of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) lag[tag].push(await lagDuring(tag === 'on' ? on.url : off.url, tag, round));
}
console.log(`\n## Event-loop lag: slowest 512 B HIT while six 1 MB JSON MISSes are fetched and stored (${ROUNDS} rounds)\n`);
console.log(`compression off: ${lag.off.map((x) => x.toFixed(1)).join(', ')} ms; on: ${lag.on.map((x) => x.toFixed(1)).join(', ')} ms`);
const mb = (await get(off.url, '/json/1048576/lag-off-0-0')).body;
const t = performance.now();
zlib.brotliCompressSync(mb, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
console.log(`(for scale: brotli quality 5 of that 1 MB body, synchronously in this process: ${(performance.now() - t).toFixed(1)} ms)`);

await agent.close();
await Promise.all([stop(on.child), stop(off.child), stop(origin)]);
