import net from 'node:net';

/**
 * A TCP relay in front of a server (Redis, here) for fault injection on real sockets:
 *
 * - `delay`: every chunk, in both directions, is held this many ms (order is kept);
 * - `blackhole`: chunks are dropped instead of relayed (the connections stay open, so the
 *   client sees silence and its command timeouts fire); `'replies'` drops only what the
 *   server sends, so commands still run but their answers are lost;
 * - `cut()`: every open connection is destroyed at once (new ones are accepted).
 */
export interface Relay {
  /** redis://127.0.0.1:<relay port> */
  url: string;
  port: number;
  delay: number;
  blackhole: false | 'both' | 'replies';
  cut(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number, targetHost = '127.0.0.1'): Promise<Relay> {
  const socks = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      socks.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.on('close', () => {
        socks.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    const pipe = (from: net.Socket, to: net.Socket, isReply: boolean): void => {
      from.on('data', (d: Buffer) => {
        const hole = relay.blackhole;
        if (hole === 'both' || (hole === 'replies' && isReply)) return;
        if (relay.delay <= 0) {
          if (to.writable) to.write(d);
          return;
        }
        setTimeout(() => {
          if (to.writable) to.write(d);
        }, relay.delay);
      });
      from.on('end', () => to.end());
    };
    pipe(client, upstream, false);
    pipe(upstream, client, true);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const relay: Relay = {
    url: `redis://127.0.0.1:${port}`,
    port,
    delay: 0,
    blackhole: false,
    cut() {
      for (const s of socks) s.destroy();
    },
    close() {
      return new Promise<void>((r) => {
        for (const s of socks) s.destroy();
        server.close(() => r());
      });
    },
  };
  return relay;
}
