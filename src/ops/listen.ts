import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Peers } from '../cache/peers.js';

/** Longest start-up wait for the peers' connections (ms). */
const START_WAIT = 2_000;

/** Binds `server`; resolves to the bound address, rejects when the address cannot be used. */
export function bind(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise<AddressInfo>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Binds the proxy listeners (http/listeners.ts). Gives Redis a moment to connect first, so the first requests can
 * use it; never waits long, and never refuses to start without it: a cache fault is a miss.
 */
export async function listenProxy(
  edge: { listen(first?: { port: number; host: string }): Promise<AddressInfo> },
  peers: Peers | undefined,
  first?: { port: number; host: string },
): Promise<AddressInfo> {
  if (peers !== undefined) {
    await peers.ready(START_WAIT);
    await peers.loadRules();
  }
  return edge.listen(first);
}
