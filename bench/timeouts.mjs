// Precision of the origin timeouts: how late a 504 comes after timeouts.headers (and, with
// --body, after timeouts.body). The origin is a raw TCP server that never answers (headers)
// or sends half a body and then nothing (body); larder runs in its own process; requests go
// one after the other, so each measures the timer alone.
//
//   npm run build && node bench/timeouts.mjs [--runs 20] [--timeout 2s] [--body]
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startLarder, stop } from './lib/procs.mjs';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '20' }, timeout: { type: 'string', default: '2s' }, body: { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const ms = /^(\d+)ms$/.test(values.timeout) ? Number(values.timeout.slice(0, -2)) : Number(values.timeout.replace(/s$/, '')) * 1000;

const sockets = new Set();
const origin = net.createServer((sock) => {
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => undefined);
  sock.on('data', (d) => {
    if (d.includes('GET /__bench_ready')) sock.write('HTTP/1.1 200 OK\r\ncache-control: no-store\r\ncontent-length: 0\r\n\r\n');
    else if (d.includes('GET /body')) sock.write('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 10\r\n\r\nhalf');
  });
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const originUrl = `http://127.0.0.1:${origin.address().port}`;

async function measure(phase) {
  const rules = `origin: ${originUrl}\nlog: { requests: 0 }\ntimeouts: { ${phase}: ${values.timeout} }\n`;
  const larder = await startLarder(rules);
  const agent = new Agent({ connections: 1 });
  const errors = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const res = await request(`${larder.url}/${phase}/${i}`, { dispatcher: agent });
    await res.body.dump();
    const took = performance.now() - t;
    if (res.statusCode !== 504) throw new Error(`${phase} run ${i}: expected 504, got ${res.statusCode}`);
    errors.push(took - ms);
  }
  await agent.close();
  await stop(larder.child);
  errors.sort((a, b) => a - b);
  const p50 = errors[Math.floor((errors.length - 1) / 2)];
  const fmt = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(1)} ms`;
  console.log(
    `timeouts.${phase} ${values.timeout}, ${runs} runs: error p50 ${fmt(p50)}, min ${fmt(errors[0])}, max ${fmt(errors[errors.length - 1])}`,
  );
}

await measure('headers');
if (values.body) await measure('body');
for (const s of sockets) s.destroy();
origin.close();
