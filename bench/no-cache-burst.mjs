// How many requests reach the origin when 1,000 clients send `Cache-Control: no-cache` for one
// stored key at once (route option clientDirectives). `npm run bench:no-cache`.
//
// larder runs in its own process (bin/larder.js, from the current directory), the origin and
// the clients in this one. The origin takes 50 ms per answer and answers a matching
// If-None-Match with 304, as a real API with ETags does.
//
//   node bench/no-cache-burst.mjs [--settings honor,ignore] [--requests 1000] [--rounds 3]
//   (--settings default: a route without clientDirectives, for builds that predate it)
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { startLarder, stop } from './lib/procs.mjs';

const { values } = parseArgs({
  options: {
    settings: { type: 'string', default: 'honor,ignore' },
    requests: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const n = Math.min(5_000, Number(values.requests));
const rounds = Math.min(10, Number(values.rounds));

let seen = 0;
const origin = http.createServer((req, res) => {
  seen++;
  setTimeout(() => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"v1"' });
      res.end();
      return;
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v1"', 'content-type': 'application/json' });
    res.end('{"items":[1,2,3]}');
  }, 50);
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const originUrl = `http://127.0.0.1:${origin.address().port}`;
const agent = new Agent({ connections: n + 10, keepAliveTimeout: 5_000 });

const rows = [];
for (const setting of values.settings.split(',')) {
  for (const [label, headers] of [
    ['Cache-Control: no-cache', { 'cache-control': 'no-cache' }],
    ['Pragma: no-cache', { pragma: 'no-cache' }],
  ]) {
    const counts = [];
    for (let round = 0; round < rounds; round++) {
      const option = setting === 'default' ? '' : `, clientDirectives: ${setting}`;
      const larder = await startLarder(`origin: ${originUrl}\nroutes:\n  - { name: api, match: /api/**${option} }\n`);
      try {
        const path = `/api/items?round=${round}`;
        await (await request(larder.url + path, { dispatcher: agent })).body.text();
        const before = seen;
        const replies = await Promise.all(
          Array.from({ length: n }, async () => {
            const r = await request(larder.url + path, { headers, dispatcher: agent });
            await r.body.text();
            return r.statusCode;
          }),
        );
        if (replies.some((s) => s !== 200)) throw new Error(`a request failed: ${replies.find((s) => s !== 200)}`);
        counts.push(seen - before);
      } finally {
        await stop(larder.child);
      }
    }
    rows.push({ setting, label, counts });
  }
}
await agent.close();
origin.close();

console.log(`\n${n} concurrent requests for one stored key (origin 50 ms per answer), ${rounds} rounds, node ${process.version}\n`);
console.log('| clientDirectives | request | origin requests per round |');
console.log('|---|---|---|');
for (const r of rows) console.log(`| ${r.setting} | ${r.label} | ${r.counts.join(', ')} |`);
