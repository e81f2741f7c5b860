import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type OriginHandler = (req: http.IncomingMessage, res: http.ServerResponse, n: number) => void;

/** A scripted origin on 127.0.0.1:0 that records every request it receives. */
export interface Origin {
  url: string;
  port: number;
  requests: SeenRequest[];
  /** Requests seen, optionally only those for `path` (without query) or full url. */
  count(url?: string): number;
  handle(fn: OriginHandler): void;
  close(): Promise<void>;
}

/**
 * Starts the origin. With `clock`, every response's Date comes from that clock, so a test
 * that moves time by hand sees the ages a real origin and proxy would agree on.
 */
export async function startOrigin(
  fn: OriginHandler = (_q, res) => res.end('ok'),
  opts: { clock?: { now(): number }; port?: number } = {},
): Promise<Origin> {
  let handler = fn;
  const requests: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (opts.clock) res.setHeader('date', new Date(opts.clock.now()).toUTCString());
    handler(req, res, requests.length);
  });
  // A given port brings a closed origin back where it was.
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    count: (url) => (url === undefined ? requests.length : requests.filter((r) => r.url === url || r.url.split('?')[0] === url).length),
    handle: (f) => {
      handler = f;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
