// The load generator of the benches, always in a process of its own, so that what is measured
// is the server and not the generator sharing its event loop:
//
// - wrk (C, one thread per -t) when it is on PATH: `apt-get install -y wrk` (Debian/Ubuntu),
//   `brew install wrk` (macOS). A Lua script written for the run reports the summary as one
//   JSON line, counts X-Cache values when asked, and picks Zipf-distributed keys when asked.
// - otherwise autocannon, run by bench/lib/cannon-child.mjs in a child Node process.
//
// Where `taskset` exists and the machine has 2 CPUs or more, the generator is pinned to the
// last CPU (see pinning()), and bench servers started through procs.mjs to the others.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** Path of wrk, or undefined; LARDER_BENCH_GENERATOR=autocannon forces the fallback. */
export const WRK =
  process.env.LARDER_BENCH_GENERATOR === 'autocannon'
    ? undefined
    : spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout?.trim() || undefined;

/**
 * The CPU split: `generator` is the CPU list the load generator runs on, `servers` the one the
 * measured servers run on; both undefined when pinning is off (no taskset, a single CPU, or
 * LARDER_BENCH_PIN=0).
 */
export function pinning() {
  const cpus = os.cpus().length;
  const taskset = spawnSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).stdout?.trim();
  if (!taskset || cpus < 2 || process.env.LARDER_BENCH_PIN === '0') return { generator: undefined, servers: undefined };
  return { generator: String(cpus - 1), servers: cpus === 2 ? '0' : `0-${cpus - 2}` };
}
const PIN = pinning();

/** What generates the load, for the tables' captions. */
export function generatorName() {
  const pin = PIN.generator === undefined ? 'not pinned' : `pinned to CPU ${PIN.generator} (servers to CPU ${PIN.servers})`;
  if (!WRK) {
    const why = process.env.LARDER_BENCH_GENERATOR === 'autocannon' ? 'LARDER_BENCH_GENERATOR=autocannon' : 'wrk is not installed (apt-get install -y wrk)';
    return `autocannon in a child process, ${pin}; ${why}`;
  }
  const v = spawnSync(WRK, ['-v'], { encoding: 'utf8' });
  const version = /wrk\s+(\S+)/.exec(`${v.stdout}${v.stderr}`)?.[1] ?? '';
  return `wrk ${version} -t1 in its own process, ${pin}`.replace('  ', ' ');
}

/** [cmd, args] to run `cmd args` on the given CPU list (unchanged without one). */
export function pinned(cpus, cmd, args) {
  return cpus === undefined ? [cmd, args] : ['taskset', ['-c', cpus, cmd, ...args]];
}

/**
 * One load run. Options: url (with path), duration (s), connections, headers (object),
 * xcache (count X-Cache values, marked "(redis-down)" when Cache-Status says so),
 * zipf { keys, s, prefix, suffix } (each request asks for prefix + k + suffix, k Zipf(s) over
 * 0..keys-1). Resolves to { rps, p50, p99 (ms), total, non2xx, errors, xcache? }.
 */
export async function load(opts) {
  const { generator } = PIN;
  const [cmd, args, parse] = WRK ? wrkCommand(opts) : cannonCommand(opts);
  const [pcmd, pargs] = pinned(generator, cmd, args);
  const text = await new Promise((resolve, reject) => {
    const child = spawn(pcmd, pargs, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (opts.duration + 30) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`${cmd} exited with ${code}: ${err.slice(0, 500)}`));
      else resolve(out);
    });
  });
  return parse(text);
}

function wrkCommand(opts) {
  const file = path.join(os.tmpdir(), `larder-wrk-${process.pid}-${Math.random().toString(36).slice(2)}.lua`);
  fs.writeFileSync(file, wrkScript(opts));
  // wrk takes whole seconds.
  const args = ['-t1', `-c${opts.connections}`, `-d${Math.max(1, Math.round(opts.duration))}s`, '--timeout', '10s', '-s', file, opts.url];
  const parse = (text) => {
    fs.rmSync(file, { force: true });
    const line = text.split('\n').find((l) => l.startsWith('LOAD '));
    if (!line) throw new Error(`wrk printed no summary:\n${text.slice(0, 500)}`);
    const s = JSON.parse(line.slice(5));
    const r = {
      rps: s.requests / (s.duration_us / 1e6),
      p50: s.p50_us / 1000,
      p99: s.p99_us / 1000,
      total: s.requests,
      non2xx: s.status,
      errors: s.connect + s.read + s.write + s.timeout,
    };
    if (opts.xcache) r.xcache = s.xcache;
    return r;
  };
  return [WRK, args, parse];
}

function cannonCommand(opts) {
  const parse = (text) => JSON.parse(text.trim().split('\n').pop());
  return [process.execPath, [path.join(HERE, 'cannon-child.mjs'), JSON.stringify(opts)], parse];
}

/** The Lua script of a wrk run: headers, optional Zipf keys and X-Cache counting, a JSON summary. */
function wrkScript(opts) {
  const lua = [];
  const q = (s) => JSON.stringify(String(s)); // a JSON string is a valid Lua string for these inputs
  for (const [k, v] of Object.entries(opts.headers ?? {})) lua.push(`wrk.headers[${q(k)}] = ${q(v)}`);
  lua.push('xc = {}', 'local threads = {}', 'function setup(thread) table.insert(threads, thread) end');
  if (opts.zipf) {
    const { keys, s, prefix, suffix = '' } = opts.zipf;
    lua.push(
      `local N, S, PRE, SUF = ${Number(keys)}, ${Number(s)}, ${q(prefix)}, ${q(suffix)}`,
      'local cdf = {}',
      'function init(args)',
      '  local sum = 0',
      '  for k = 1, N do sum = sum + 1 / (k ^ S); cdf[k] = sum end',
      '  for k = 1, N do cdf[k] = cdf[k] / sum end',
      '  math.randomseed(os.time() + math.floor(os.clock() * 1e6))',
      'end',
      'function request()',
      '  local u, lo, hi = math.random(), 1, N',
      '  while lo < hi do local mid = math.floor((lo + hi) / 2); if cdf[mid] < u then lo = mid + 1 else hi = mid end end',
      '  return wrk.format(nil, PRE .. (lo - 1) .. SUF)',
      'end',
    );
  }
  if (opts.xcache) {
    lua.push(
      'function response(status, headers, body)',
      '  local x = headers["x-cache"] or headers["X-Cache"] or "(none)"',
      '  local cs = headers["cache-status"] or headers["Cache-Status"]',
      '  if cs and string.find(cs, "redis-down", 1, true) then x = x .. " (redis-down)" end',
      '  xc[x] = (xc[x] or 0) + 1',
      'end',
    );
  }
  lua.push(
    'function done(summary, latency, requests)',
    '  local counts = {}',
    '  for _, t in ipairs(threads) do',
    '    local c = t:get("xc")',
    '    if c then for k, v in pairs(c) do counts[k] = (counts[k] or 0) + v end end',
    '  end',
    '  local parts = {}',
    '  for k, v in pairs(counts) do table.insert(parts, string.format("%q:%d", k, v)) end',
    '  local e = summary.errors',
    '  io.write(string.format(\'LOAD {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"xcache":{%s}}\\n\',',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))',
    'end',
  );
  return lua.join('\n') + '\n';
}
