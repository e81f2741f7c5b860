import { Agent, request } from 'undici';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** A header as one string ('' when absent). */
  h(name: string): string;
}

const agent = new Agent({ keepAliveTimeout: 1_000, connections: 1024 });

/** Sends one request over a real socket and reads the whole answer. */
export async function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const res = await request(base + path, { method: method as 'GET', headers, dispatcher: agent });
  const body = await res.body.text();
  const hs = res.headers as Record<string, string | string[] | undefined>;
  return {
    status: res.statusCode,
    headers: hs,
    body,
    h: (name) => {
      const v = hs[name.toLowerCase()];
      return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
