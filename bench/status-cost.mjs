// What the status page costs: L1 (memory) HIT req/s of larder with the page's collectors off
// (admin.status: false), on (admin.status: true, /status read every 3 s as an open page does),
// and on with an access line per request (log.access.sample: 1, JSON). The three run side by
// side, interleaved round by round in one run; the load generator (wrk, else autocannon) runs
// in its own process.
//
//   npm run build && node bench/status-cost.mjs [--quick]
//
// Run one bench at a time on a machine (flock /tmp/bench.lock ...): the figures are ratios of
// runs that share the machine.
import { spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpuMs, freePort, start, startLarder, stop, waitHttp, sleep } from './lib/procs.mjs';

const { values: flags } = parseArgs({ options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' }, duration: { type: 'string' } } });
const ROUNDS = Number(flags.rounds ?? (flags.quick ? 2 : 6));
const DURATION = Number(flags.duration ?? (flags.quick ? 1 : 5));
const CONNECTIONS = 50;
const PATH = '/b/1024/hot';

setTimeout(() => {
  console.error('bench: time limit reached, exiting');
  process.exit(1);
}, 15 * 60_000).unref();

const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();

/** One load run in a child process; resolves to { rps, total } (requests answered). */
function load(url) {
  return new Promise((resolve, reject) => {
    const [cmd, args] = wrk
      ? [wrk, ['-t2', `-c${CONNECTIONS}`, `-d${DURATION}s`, url]]
      : [process.execPath, ['node_modules/autocannon/autocannon.js', '-j', '-c', String(CONNECTIONS), '-d', String(DURATION), url]];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${out}`));
      if (wrk) {
        const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
        const total = /(\d+) requests in/.exec(out);
        const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
        if (non2xx) return reject(new Error(`non-2xx answers: ${non2xx[1]}`));
        return m && total ? resolve({ rps: Number(m[1]), total: Number(total[1]) }) : reject(new Error(`no Requests/sec in: ${out}`));
      }
      const j = JSON.parse(out.slice(out.indexOf('{')));
      resolve({ rps: j.requests.average, total: j.requests.total });
    });
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const originPort = await freePort();
const origin = start(process.execPath, ['bench/lib/origin.mjs', String(originPort)]);
const originUrl = `http://127.0.0.1:${originPort}`;
await waitHttp(originUrl + '/__count');

async function variant(name, status, accessSample) {
  const adminPort = await freePort();
  const rules = `origin: ${originUrl}
admin: { listen: 127.0.0.1:${adminPort}, status: ${status} }
log: { access: { sample: ${accessSample} } }
`;
  // Access lines go to stdout: sent to /dev/null here, as a log shipper would consume them.
  const l = await startLarder(rules);
  return { name, status, ...l, admin: `http://127.0.0.1:${adminPort}`, rps: [], cpu: [] };
}

const variants = [await variant('collectors off (admin.status: false)', false, 0), await variant('collectors on (admin.status: true)', true, 0), await variant('collectors on + JSON access log', true, 1)];
for (const v of variants) {
  for (let i = 0; i < 3; i++) await fetch(v.url + PATH).then((r) => r.arrayBuffer());
  const r = await fetch(v.url + PATH);
  if (r.headers.get('x-cache') !== 'HIT') throw new Error(`${v.name}: ${PATH} is not a HIT (${r.headers.get('x-cache')})`);
}

// An open status page reads /status every 3 s.
let polling = true;
const poll = (async () => {
  while (polling) {
    for (const v of variants) if (v.status) await fetch(v.admin + '/status').then((r) => r.arrayBuffer()).catch(() => undefined);
    await sleep(3_000);
  }
})();

console.error(`bench: ${ROUNDS} rounds of ${DURATION} s per variant, ${CONNECTIONS} connections, ${wrk ? 'wrk' : 'autocannon'}; warming up`);
for (const v of variants) await load(v.url + PATH);
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order so that no variant always runs first or last in a round.
  const order = variants.map((_, i) => variants[(i + round) % variants.length]);
  for (const v of order) {
    const before = cpuMs(v.child.pid);
    const r = await load(v.url + PATH);
    v.rps.push(r.rps);
    // larder's own CPU time per request: what the collectors add, whatever else shares the machine.
    v.cpu.push(((cpuMs(v.child.pid) - before) * 1000) / r.total);
  }
  console.error(`bench: round ${round + 1}: ${variants.map((v) => `${Math.round(v.rps.at(-1))} req/s ${v.cpu.at(-1).toFixed(1)} µs`).join(' / ')}`);
}
polling = false;
await poll;

const base = median(variants[0].rps);
const baseCpu = median(variants[0].cpu);
const rows = variants.map(
  (v) =>
    `| ${v.name} | ${Math.round(median(v.rps))} | ${(median(v.rps) / base).toFixed(3)} | ${median(v.cpu).toFixed(1)} | ${(median(v.cpu) - baseCpu >= 0 ? '+' : '') + (median(v.cpu) - baseCpu).toFixed(1)} | ${v.rps.map((x) => Math.round(x)).join(', ')} |`,
);
console.log(`L1 HIT, 1 KiB body, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${DURATION} s, ${wrk ? 'wrk -t2' : 'autocannon'}, node ${process.version}

| larder | req/s (median) | ÷ off | CPU µs/req (median) | vs off | req/s per round |
|---|---|---|---|---|---|
${rows.join('\n')}`);

for (const v of variants) await stop(v.child);
await stop(origin);
process.exit(0);
