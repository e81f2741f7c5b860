import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdminSettings } from '../config/types.js';
import { createAdminServer, type AdminDeps } from '../http/admin.js';
import { bind } from './listen.js';

/** What the admin listener serves, whether from one instance or a cluster primary. */
export interface AdminOps extends Omit<AdminDeps, 'token' | 'open' | 'warm' | 'onError'> {
  /** Runs the warming job; undefined when nothing is configured to warm. */
  warm: () => Promise<unknown>;
}

/** The one place the admin listener is built and bound. */
export async function startAdmin(
  settings: AdminSettings,
  ops: AdminOps,
  onError: ((err: unknown) => void) | undefined,
  port = settings.listen.port,
  host = settings.listen.host,
): Promise<{ server: http.Server; address: AddressInfo }> {
  const server = createAdminServer({
    ...ops,
    token: settings.token,
    open: settings.public,
    warm: async () => (await ops.warm()) ?? { error: 'nothing to warm: add warm.urls or warm.file to the rules' },
    ...(onError ? { onError } : {}),
  });
  return { server, address: await bind(server, port, host) };
}
