import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real redis-server processes for the integration tests (Redis is never mocked).
 * Every wait is bounded; every process and temp dir is removed on stop, and on exit of
 * the test process as a last resort.
 */

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server and removes its files. */
  stop(): Promise<void>;
  /** SIGKILL: the server vanishes without closing anything gracefully. */
  kill(): Promise<void>;
  /** Starts the server again on the same port (after kill, or kills it first). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its sockets open but answers nothing. */
  pause(): void;
  resume(): void;
  /** Runs redis-cli against this server; resolves to its trimmed output. */
  cli(...args: string[]): Promise<string>;
}

export interface RedisCluster {
  /** redis://127.0.0.1:port of every node (masters first). */
  nodes: string[];
  ports: number[];
  stop(): Promise<void>;
  /** SIGKILLs the node on `port`. */
  kill(port: number): Promise<void>;
  /** Runs redis-cli against the node on `port`. */
  cli(port: number, ...args: string[]): Promise<string>;
}

const START_TIMEOUT = 5000;
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

let checked = false;
function requireRedis(): void {
  if (checked) return;
  for (const bin of ['redis-server', 'redis-cli']) {
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 5000 });
    if (r.error !== undefined || r.status !== 0) {
      throw new Error(
        `${bin} was not found on PATH; the Redis tests need a real Redis 7. Install it with ` +
          '`apt-get install -y redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), then run the tests again.',
      );
    }
  }
  checked = true;
}

/** A port nobody listens on right now (the server may still lose a race for it; callers retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function cli(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message} ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

/** Resolves once the server answers PING, rejects when it exits or `ms` pass. */
async function waitReady(proc: ChildProcess, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server on port ${port} exited early`);
    if (await ping(port)) return;
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${ms} ms`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

function spawnServer(args: string[]): ChildProcess {
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  proc.stderr?.resume();
  return proc;
}

function waitExit(proc: ChildProcess, ms: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function killHard(proc: ChildProcess | undefined): Promise<void> {
  if (proc === undefined) return;
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGKILL');
  await waitExit(proc, 5000);
}

function serverArgs(port: number, dir: string, extra: string[] = []): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra];
}

/** Spawns on a free port, retrying with another port when the chosen one was taken meanwhile. */
async function spawnOnFreePort(
  dir: string,
  extra: (port: number, spare: number) => string[] = () => [],
): Promise<{ proc: ChildProcess; port: number }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const spare = await freePort();
    const proc = spawnServer(serverArgs(port, dir, extra(port, spare)));
    try {
      await waitReady(proc, port, START_TIMEOUT);
      return { proc, port };
    } catch (err) {
      lastError = err;
      await killHard(proc);
    }
  }
  throw new Error(`could not start redis-server: ${String(lastError)}`);
}

export async function startRedis(): Promise<RedisServer> {
  requireRedis();
  const dir = mkdtempSync(join(tmpdir(), 'larder-redis-'));
  let proc: ChildProcess | undefined;
  let port: number;
  try {
    ({ proc, port } = await spawnOnFreePort(dir));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const kill = async (): Promise<void> => {
    await killHard(proc);
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await kill();
      // The port was ours a moment ago; a brief retry covers the kernel releasing it.
      const deadline = Date.now() + START_TIMEOUT;
      for (;;) {
        proc = spawnServer(serverArgs(port, dir));
        try {
          await waitReady(proc, port, START_TIMEOUT);
          return;
        } catch (err) {
          await killHard(proc);
          if (Date.now() > deadline) throw err;
          await sleep(100);
        }
      }
    },
    pause() {
      proc?.kill('SIGSTOP');
    },
    resume() {
      proc?.kill('SIGCONT');
    },
    cli: (...args) => cli(port, args),
  };
}

/**
 * A Redis Cluster of `n` masters, each with `replicas` replicas, ready (cluster_state:ok on
 * every node). `nodeTimeout` is how long a silent master takes to be failed over (ms).
 */
export async function startCluster(n = 3, replicas = 0, nodeTimeout = 2000): Promise<RedisCluster> {
  requireRedis();
  const dir = mkdtempSync(join(tmpdir(), 'larder-cluster-'));
  const procs: ChildProcess[] = [];
  const ports: number[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((p) => killHard(p)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < n * (1 + replicas); i++) {
      // A directory of its own per node: replicas and masters must not share dump files.
      const nodeDir = join(dir, `node-${i}`);
      mkdirSync(nodeDir);
      const { proc, port } = await spawnOnFreePort(nodeDir, (p, busPort) => [
        '--repl-diskless-sync',
        'yes',
        '--repl-diskless-sync-delay',
        '0',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${p}.conf`),
        // An explicit bus port: the default (port + 10000) may be taken or out of range.
        '--cluster-port',
        String(busPort),
        '--cluster-node-timeout',
        String(nodeTimeout),
      ]);
      procs.push(proc);
      ports.push(port);
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
        { timeout: 15_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`cluster create failed: ${err.message}\n${stdout}\n${stderr}`)) : resolve()),
      );
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const infos = await Promise.all(ports.map((p) => cli(p, ['cluster', 'info'])));
      const synced = await Promise.all(
        ports.map(async (p) => {
          const r = await cli(p, ['info', 'replication']);
          return !r.includes('role:slave') || r.includes('master_link_status:up');
        }),
      );
      if (infos.every((i) => i.includes('cluster_state:ok')) && synced.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error(`cluster did not reach cluster_state:ok:\n${infos.join('\n')}`);
      await sleep(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const byPort = new Map(ports.map((p, i) => [p, procs[i]!]));
  return {
    nodes: ports.map((p) => `redis://127.0.0.1:${p}`),
    ports,
    stop,
    kill: async (port) => {
      const proc = byPort.get(port);
      if (proc !== undefined) await killHard(proc);
    },
    cli: (port, ...args) => cli(port, args),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 20 ms until it holds; throws after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}
