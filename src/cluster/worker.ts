import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PurgeRequest } from '../http/admin.js';
import type { Larder } from '../larder.js';
import { reloader, runWarm, startLarder } from '../runtime.js';
import { IpcPeers } from './ipc-peers.js';
import { isMsg, type Msg } from './messages.js';
import { shareWorkerMetrics } from './metrics.js';

/**
 * A worker process: one larder on the shared port. Without Redis it coordinates through the
 * primary (`IpcPeers`); it answers the primary's asks (admin operations, reloads) and stops
 * when told to or when the primary goes away.
 */
export async function runWorker(o: { config: Config; file: string; log: Logger }): Promise<number> {
  const send = (m: Msg): void => {
    if (process.connected) process.send?.(m);
  };
  const peers = o.config.cache.redis === undefined ? new IpcPeers(send) : undefined;
  const larder = startLarder(o.config, o.log, peers);
  const reload = reloader(o.file, larder, o.log);
  shareWorkerMetrics(larder.recorder.metrics.registry);
  process.on('message', (m: unknown) => {
    if (!isMsg(m)) return;
    if (m.t === 'ask') {
      void answer(larder, reload, m).then((body) => send({ t: 'answer', id: m.id, body }));
      return;
    }
    peers?.receive(m);
  });
  await larder.listen();
  send({ t: 'listening' });
  runWarm(larder, o.log);
  return new Promise<number>((resolve) => {
    const stop = (): void => {
      larder.close(larder.config().shutdownGrace).then(
        () => {
          o.log.flush();
          resolve(0);
        },
        () => resolve(1),
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', () => undefined); // the primary decides when workers stop
    process.once('disconnect', stop);
  });
}

/** Carries out what the primary asked; a failure becomes `{ error }`, never a silence. */
async function answer(larder: Larder, reload: () => boolean, m: Extract<Msg, { t: 'ask' }>): Promise<unknown> {
  try {
    switch (m.what) {
      case 'purge':
        return await larder.purge(m.body as PurgeRequest);
      case 'explain': {
        const b = m.body as { url: string; headers: Record<string, string> };
        return await larder.explain(b.url, b.headers);
      }
      case 'ready':
        return await larder.ready();
      case 'status':
        return larder.status() ?? null;
      case 'reload':
        return reload();
      case 'warm':
        // Undefined (nothing to warm) arrives as an answer without a body; the admin listener words it.
        return await larder.warm();
    }
  } catch (err) {
    return { error: String(err) };
  }
}
