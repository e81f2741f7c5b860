import type { Config } from '../config/types.js';
import type { TieredStore } from '../cache/tiered-store.js';
import { PurgeRulesFull, type PurgeRule } from '../cache/purge-rules.js';
import type { Recorder } from '../metrics/record.js';
import type { PurgeAnswer, PurgeRequest } from '../http/admin.js';
import { ErrorCodes, LarderError } from '../errors.js';
import { resolveRequest } from '../http/target.js';

export interface PurgeDeps {
  store: TieredStore;
  recorder: Recorder;
  config: () => Config;
}

/**
 * Carries out a purge as POST /purge does. Path, prefix and tag purges become rules, added
 * together (or refused together when the rule set is full) before any URL is purged.
 */
export async function purge(d: PurgeDeps, p: PurgeRequest): Promise<PurgeAnswer> {
  const rules = [...pathRules(d, p), ...p.prefixes.map((v) => d.store.rule('prefix', v, p.soft)), ...p.tags.map((v) => d.store.rule('tag', v, p.soft))];
  let purged = 0;
  try {
    purged += await d.store.purgeRules(rules);
  } catch (err) {
    if (err instanceof PurgeRulesFull) throw new LarderError(ErrorCodes.PURGE_RULES_FULL, err.message);
    throw err;
  }
  const paths = rules.length - p.prefixes.length - p.tags.length;
  if (paths > 0) d.recorder.purge('path', paths);
  if (p.prefixes.length > 0) d.recorder.purge('prefix', p.prefixes.length);
  if (p.tags.length > 0) d.recorder.purge('tag', p.tags.length);
  for (const u of p.urls) {
    if (u.startsWith('/')) continue;
    const r = resolveRequest(d.config(), 'GET', '', u);
    if ('problem' in r) continue;
    purged += await d.store.purgeUrl(r.key.primary, p.soft);
    d.recorder.purge('url');
  }
  return { purged, soft: p.soft, urls: p.urls.length, prefixes: p.prefixes.length, tags: p.tags.length };
}

/** A rule for each path (a URL without a host): it matches that path on every host. */
function pathRules(d: PurgeDeps, p: PurgeRequest): PurgeRule[] {
  const rules: PurgeRule[] = [];
  for (const u of p.urls) {
    if (!u.startsWith('/')) continue;
    // The same resolver as a request's: a purge finds exactly the key a GET of the URL stored.
    const r = resolveRequest(d.config(), 'GET', '', u);
    // A target larder refuses to route can have nothing stored under it.
    if ('problem' in r) continue;
    rules.push(d.store.rule('path', r.key.target, p.soft));
  }
  return rules;
}
