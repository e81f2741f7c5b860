import type http from 'node:http';
import type { Readiness } from './readiness.js';

export interface ShutdownDeps {
  server: http.Server;
  /** The admin listener, once bound. */
  admin: () => http.Server | undefined;
  readiness: Readiness;
  /** Settles when the fills running now have. */
  fills: { drain(): Promise<void> };
  pass: { close(): void };
  origin: { close(): Promise<void> };
  peers: { close(): Promise<void> } | undefined;
  redis: { disconnect(): void } | undefined;
}

/**
 * Stops accepting, lets requests and fills in flight finish for up to `grace` ms, then cuts
 * what is left and closes the origin pools and Redis.
 */
export async function shutdown(d: ShutdownDeps, grace: number): Promise<void> {
  d.readiness.drain();
  await drain(d, grace);
  // Past the deadline, whatever is still running is cut off rather than waited for.
  d.server.closeAllConnections();
  const admin = d.admin();
  admin?.closeAllConnections();
  admin?.close();
  d.pass.close();
  await d.origin.close();
  await d.peers?.close();
  d.redis?.disconnect();
}

/** Waits up to `grace` ms for the proxy's connections to close and its fills to settle. */
async function drain(d: ShutdownDeps, grace: number): Promise<void> {
  const { server } = d;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections become idle as their last response goes out; close each then.
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, grace)));
  await Promise.race([Promise.all([closed, d.fills.drain()]), deadline]);
  clearTimeout(timer);
  clearInterval(sweeper);
}
