import net from 'node:net';

/** A scripted origin on a raw TCP socket, for answers that must be exactly these bytes. */
export interface RawOrigin {
  url: string;
  /** TCP connections accepted. */
  connections: number;
  /** Request heads received (first line), in order. */
  requests: string[];
  /** Request heads received (whole, without the blank line), in order. */
  heads: string[];
  /** Requests whose first line names `path` (without query, or exactly with one). */
  count(path: string): number;
  close(): Promise<void>;
}

/** A TCP server: `answer` is called with each request head and writes whatever it likes. */
export async function rawOrigin(answer: (sock: net.Socket, head: string, n: number) => void): Promise<RawOrigin> {
  const sockets = new Set<net.Socket>();
  const o: RawOrigin = {
    url: '',
    connections: 0,
    requests: [],
    heads: [],
    count: (path) => o.requests.filter((r) => { const t = r.split(' ')[1] ?? ''; return t === path || t.split('?')[0] === path; }).length,
    close: async () => undefined,
  };
  const server = net.createServer((sock) => {
    o.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      let end;
      while ((end = buf.indexOf('\r\n\r\n')) !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        o.requests.push(head.split('\r\n')[0]!);
        o.heads.push(head);
        answer(sock, head, o.requests.length);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  o.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  o.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return o;
}

/** The request target of a request head. */
export const pathOf = (head: string): string => head.split(' ')[1]!;

/** A request header's value from a raw head ('' when absent). */
export function headerOf(head: string, name: string): string {
  const want = name.toLowerCase() + ':';
  for (const line of head.split('\r\n').slice(1)) if (line.toLowerCase().startsWith(want)) return line.slice(want.length).trim();
  return '';
}
