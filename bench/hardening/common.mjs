import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
export function startChild(rules) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('./larder-child.mjs', import.meta.url).pathname, [JSON.stringify(rules)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('message', (m) => resolve({ child, port: m.port }));
    child.once('exit', (c) => reject(new Error('child exited ' + c)));
  });
}
export function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}
export const mb = (b) => (b / 1048576).toFixed(1) + ' MB';
export function pct(xs, p) { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; }
