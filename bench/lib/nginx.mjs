// nginx with proxy_cache as a second reference, when `nginx` is on PATH: one worker, a cache
// in a fresh temp dir, listening on 127.0.0.1 only, configured like the bench's larder:
// honour the origin's Cache-Control, one upstream fetch per cold key (proxy_cache_lock),
// stale-while-revalidate with background refreshes, /pass/ never cached, keep-alive upstream.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, start, waitHttp } from './procs.mjs';

export function nginxVersion() {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return (r.stderr || r.stdout).trim().replace(/^nginx version:\s*/, '');
}

export function nginxConfig({ dir, port, originPort, workers = 1 }) {
  return `
worker_processes ${workers};
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log stderr error;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  keepalive_requests 1000000;
  keepalive_timeout 5s;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=larder:64m max_size=1g inactive=1h use_temp_path=off;
  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 128;
  }
  server {
    listen 127.0.0.1:${port};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffers 16 16k;
    location /pass/ {
      proxy_pass http://origin;
      add_header X-Cache BYPASS;
    }
    location / {
      proxy_pass http://origin;
      proxy_cache larder;
      proxy_cache_lock on;
      proxy_cache_use_stale updating error timeout;
      proxy_cache_background_update on;
      add_header X-Cache $upstream_cache_status;
    }
  }
}
`;
}

/** Starts nginx, or resolves to undefined when it is not installed. */
export async function startNginx(originPort, { workers = 1, pin = true } = {}) {
  const version = nginxVersion();
  if (version === undefined) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'larder-bench-nginx-'));
  // When the bench runs as root, nginx's worker runs as `nobody` and must write the cache.
  fs.chmodSync(dir, 0o777);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConfig({ dir, port, originPort, workers }));
  const child = start('nginx', ['-p', dir, '-c', conf, '-e', 'stderr'], { pin });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(url + '/pass/1/__bench_ready');
  return { url, port, child, version, dir, workerPid: () => childPids(child.pid)[0] ?? child.pid };
}

/** Pids whose parent is `pid` (nginx's workers). */
export function childPids(pid) {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // the process exited while we looked
    }
  }
  return out;
}
