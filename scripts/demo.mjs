// The first run: `npm run demo` starts the demo origin and larder in front of it (with
// ./rules.yaml, its origin pointed at the demo), then prints what to try. Ctrl-C stops both.
// LARDER_DEMO_ORIGIN_PORT (default 3000) picks the demo origin's port.
import { spawn } from 'node:child_process';
import net from 'node:net';

const originPort = Number(process.env.LARDER_DEMO_ORIGIN_PORT ?? 3000);
const origin = `http://127.0.0.1:${originPort}`;
const proxy = process.env.LARDER_LISTEN ?? '127.0.0.1:8080';
const admin = '127.0.0.1:9091'; // rules.yaml's admin.listen

const children = [];
const stop = () => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

function start(args, env = {}) {
  const c = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  c.on('exit', (code) => {
    if (code !== 0 && code !== null) process.exitCode = code;
    stop();
  });
  children.push(c);
  return c;
}

function listening(hostPort, ms = 10_000) {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  const until = Date.now() + ms;
  return new Promise((resolve) => {
    const attempt = () => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) resolve(false);
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

start(['scripts/demo-origin.mjs', String(originPort)]);
if (!(await listening(`127.0.0.1:${originPort}`))) {
  console.error(`the demo origin did not start on ${origin}; is the port taken? Set LARDER_DEMO_ORIGIN_PORT.`);
  stop();
} else {
  start(['bin/larder.js', '--config', 'rules.yaml'], { LARDER_ORIGIN: origin, PRODUCTS_ORIGIN: origin, LARDER_LISTEN: proxy });
  if (await listening(proxy)) {
    const base = `http://${proxy}`;
    process.stdout.write(`
larder is running on ${base}, in front of the demo origin on ${origin}. Try:

  curl -i ${base}/api/products/1      # X-Cache: MISS (stored)
  curl -i ${base}/api/products/1      # X-Cache: HIT, Age: 0
  curl -i ${base}/api/me              # X-Cache: MISS, Cache-Status: ...; detail=private (never shared)
  curl -s '${base}/api/products/2?token=secret' >/dev/null   # the access line shows token=REDACTED

Status page:  http://${admin}/        (JSON: http://${admin}/status, Prometheus: http://${admin}/metrics)
On a shell:   npx larder status --admin http://${admin}
Ctrl-C stops both.

`);
  }
}
