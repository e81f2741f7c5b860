import type { Config } from '../config/types.js';

/** What a reload did: applied for new requests, and the changes that need a restart. */
export interface ReloadResult {
  /** Settings that changed in the file but keep their old value until a restart. */
  needsRestart: string[];
}

/**
 * The config new requests use. A reload swaps the reference; requests in flight keep the one
 * they read. Settings bound when the instance was built are reported as needing a restart.
 */
export class LiveConfig {
  private current: Config;

  constructor(
    initial: Config,
    private readonly onReload: () => void = () => undefined,
  ) {
    this.current = initial;
  }

  /** The config for a new request (a stable function, handed to the parts that read it). */
  readonly get = (): Config => this.current;

  reload(next: Config): ReloadResult {
    const result = { needsRestart: needsRestart(this.current, next) };
    this.current = next;
    this.onReload();
    return result;
  }
}

/** The settings that differ between `current` and `next` and only take effect on a restart. */
export function needsRestart(current: Config, next: Config): string[] {
  const out: string[] = [];
  const differs = (a: unknown, b: unknown): boolean => JSON.stringify(a) !== JSON.stringify(b);
  if (differs(listenerShape(next), listenerShape(current))) out.push('listen');
  if (differs(next.admin, current.admin)) out.push('admin');
  if (differs(next.timeouts, current.timeouts)) out.push('timeouts');
  if (next.cache.memory.maxSize !== current.cache.memory.maxSize) out.push('cache.memory.maxSize');
  if (next.log.level !== current.log.level) out.push('log.level');
  if (next.reload.watch !== current.reload.watch) out.push('reload.watch');
  if (differs(next.cache.redis, current.cache.redis)) out.push('cache.redis');
  if (next.cache.hitForPass !== current.cache.hitForPass) out.push('cache.hitForPass');
  if (next.cache.maxVariants !== current.cache.maxVariants) out.push('cache.maxVariants');
  if (next.cache.maxTtl !== current.cache.maxTtl) out.push('cache.maxTtl');
  return out;
}

/** The listeners without their certificates' text: new certificates apply on reload. */
function listenerShape(c: Config): unknown {
  return c.listeners.map((l) => ({ ...l, tls: l.tls === undefined ? undefined : { cert: l.tls.certFile, key: l.tls.keyFile } }));
}
