import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type http from 'node:http';
import { Agent, request } from 'undici';
import type { Config } from '../config/types.js';
import type { Readiness } from './readiness.js';

export interface WarmResult {
  total: number;
  ok: number;
  failed: number;
  ms: number;
}

export interface WarmDeps {
  /** The proxy listener: warming requests go through it. */
  server: http.Server;
  config: () => Config;
  readiness: Readiness;
}

/** Fetches the configured warm URLs through this instance; undefined when none are configured. */
export async function warmInstance(d: WarmDeps, progress?: (done: number, total: number) => void): Promise<WarmResult | undefined> {
  const current = d.config();
  const w = current.warm;
  const addr = d.server.address();
  if (w === undefined || addr === null || typeof addr === 'string') return undefined;
  return d.readiness.warmingWhile(async () => {
    const urls = await warmList(w.urls, w.file, current.file);
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return warm(`http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`, urls, w.concurrency, progress);
  });
}

/** The URLs to warm: the list in the config, then the lines of the file (# comments skipped). */
export async function warmList(urls: readonly string[], file: string | undefined, configFile: string | undefined): Promise<string[]> {
  const out = [...urls];
  if (file !== undefined) {
    const path = resolve(configFile === undefined ? process.cwd() : dirname(configFile), file);
    const text = await readFile(path, 'utf8');
    for (const line of text.split('\n')) {
      const t = line.trim();
      if (t !== '' && !t.startsWith('#')) out.push(t);
    }
  }
  return out;
}

/**
 * Fetches each URL through larder itself, so warming takes the same path as a client: route,
 * key, coalescing, storage rules, both tiers. Absolute URLs send their host. At most
 * `concurrency` requests are in flight; `progress` hears about every tenth of the way.
 */
export async function warm(
  base: string,
  urls: readonly string[],
  concurrency: number,
  progress?: (done: number, total: number) => void,
): Promise<WarmResult> {
  const started = performance.now();
  const agent = new Agent({ connections: concurrency, keepAliveTimeout: 1_000 });
  let next = 0;
  let ok = 0;
  let failed = 0;
  const step = Math.max(1, Math.ceil(urls.length / 10));
  const one = async (u: string): Promise<void> => {
    let path = u;
    const headers: Record<string, string> = { 'user-agent': 'larder-warm' };
    if (/^https?:\/\//i.test(u)) {
      const parsed = new URL(u);
      path = parsed.pathname + parsed.search;
      headers['host'] = parsed.host;
    }
    try {
      const res = await request(base + path, { headers, dispatcher: agent, headersTimeout: 60_000, bodyTimeout: 60_000 });
      await res.body.dump();
      if (res.statusCode < 400) ok++;
      else failed++;
    } catch {
      failed++;
    }
    const done = ok + failed;
    if (done % step === 0 || done === urls.length) progress?.(done, urls.length);
  };
  const worker = async (): Promise<void> => {
    while (next < urls.length) await one(urls[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, urls.length) }, worker));
  await agent.close();
  return { total: urls.length, ok, failed, ms: Math.round(performance.now() - started) };
}
