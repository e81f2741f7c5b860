// Helpers shared by the bench scripts: processes on loopback, bounded waits, autocannon runs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import autocannon from 'autocannon';

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls until an HTTP GET to `url` answers, for at most `ms`. */
export async function waitHttp(url, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const req = http.get(url, (res) => {
        res.resume();
        resolve(true);
      });
      req.on('error', () => resolve(false));
      req.setTimeout(500, () => req.destroy());
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing answered at ${url} within ${ms} ms`);
    await sleep(50);
  }
}

const children = new Set();
process.on('exit', () => {
  // SIGTERM, not SIGKILL: nginx's master stops its workers on SIGTERM, and a SIGKILLed master
  // would leave them running (holding the bench's stderr open).
  for (const c of children) c.kill('SIGTERM');
});

/** The CPU list bench servers are pinned to (taskset -c), or undefined: see pinServers. */
let serverCpus;

/**
 * Pins every process start() launches from now on to `cpus` (a taskset CPU list), so that the
 * load generator (bench/lib/load.mjs) keeps a CPU of its own; undefined stops pinning.
 */
export function pinServers(cpus) {
  serverCpus = cpus;
}

/**
 * Starts a child process that is killed when the bench exits; pinned to the servers' CPUs
 * (pinServers) unless `pin: false` (helpers such as the origin and redis-server, which then run
 * wherever the kernel puts them, as they would beside a real deployment).
 */
export function start(cmd, args, { pin = true, ...opts } = {}) {
  const [c, a] = serverCpus === undefined || !pin ? [cmd, args] : ['taskset', ['-c', serverCpus, cmd, ...args]];
  const child = spawn(c, a, { stdio: ['ignore', 'ignore', 'inherit'], ...opts });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(5_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function startRedis() {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is not on PATH: apt-get install -y redis-server (Debian/Ubuntu) or brew install redis');
  }
  const port = await freePort();
  const child = start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { pin: false });
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'PING'], { encoding: 'utf8' });
    if (r.stdout.trim() === 'PONG') return { port, url: `redis://127.0.0.1:${port}`, child };
    await sleep(50);
  }
  throw new Error('redis-server did not start');
}

/** Starts larder (the built dist) with a rules file written for the run. */
export async function startLarder(rulesYaml, { env = {}, node = process.execPath, nodeArgs = [], args = [], pin = true } = {}) {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-bench-'));
  const file = path.join(dir, 'rules.yaml');
  fs.writeFileSync(file, rulesYaml);
  const port = await freePort();
  const child = start(node, [...nodeArgs, 'bin/larder.js', '--config', file, ...args], {
    pin,
    env: { ...process.env, LARDER_LOG_LEVEL: 'warn', LARDER_LISTEN: `127.0.0.1:${port}`, ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(url + '/__bench_ready');
  return { url, port, child };
}

/** Resident set size of a process in MiB (VmRSS from /proc), or NaN when it cannot be read. */
export function rssMiB(pid) {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat; NaN when
 * it cannot be read. The difference over a run divided by the requests served is the
 * process's own cost per request, whatever else the machine was busy with.
 */
export function cpuMs(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** One autocannon run; resolves to req/s, p50, p99 (ms), non-2xx count and errors. */
export function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 50, pipelining: 1, ...opts }, (err, r) => {
      if (err) return reject(err);
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        max: r.latency.max,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        total: r.requests.total,
      });
    });
  });
}
