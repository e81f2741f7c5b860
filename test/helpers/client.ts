import net from 'node:net';
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
  return { status: res.statusCode, headers: hs, body, h: headerOf(hs) };
}

/** Reads a response field as one string ('' when absent, lines joined with ", "). */
export function headerOf(hs: Record<string, string | string[] | undefined>): (name: string) => string {
  return (name) => {
    const v = hs[name.toLowerCase()];
    return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface RawReply {
  status: number;
  head: string;
  body: string;
  /** A header's value from the head ('' when absent). */
  h(name: string): string;
}

/**
 * Sends a request line and fields exactly as written (plus `Connection: close` unless the
 * fields have a Connection) on a connection of its own, and reads until the server closes it.
 */
export function raw(base: string, requestLine: string, fields: readonly string[]): Promise<RawReply> {
  const port = Number(new URL(base).port);
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    sock.on('error', reject);
    sock.on('close', () => {
      const cut = text.indexOf('\r\n\r\n');
      const head = cut === -1 ? text : text.slice(0, cut);
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]),
        head,
        body: cut === -1 ? '' : text.slice(cut + 4),
        h: (name) => new RegExp(`\\r\\n${name}: ([^\\r]*)`, 'i').exec(head)?.[1] ?? '',
      });
    });
    const hasConnection = fields.some((f) => /^connection:/i.test(f));
    const lines = [requestLine, ...fields, ...(hasConnection ? [] : ['Connection: close'])];
    sock.write(`${lines.join('\r\n')}\r\n\r\n`);
  });
}
