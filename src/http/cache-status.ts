import type { Reason } from '../types.js';

/** The parameters of larder's member of the RFC 9211 Cache-Status field. */
export interface CacheStatusInfo {
  hit?: boolean;
  /** Why the request went forward (RFC 9211 §2.2). */
  fwd?: 'uri-miss' | 'vary-miss' | 'stale' | 'request' | 'bypass' | 'miss';
  fwdStatus?: number;
  stored?: boolean;
  /** Remaining freshness in seconds; negative when stale. */
  ttl?: number;
  collapsed?: boolean;
  detail?: Reason | 'stale-while-revalidate' | 'max-stale' | 'stale-if-error' | 'early-refresh' | undefined;
}

export const CACHE_NAME = 'larder';

/** Formats larder's member, appended to a Cache-Status list the origin may have started. */
export function formatCacheStatus(info: CacheStatusInfo, upstream?: string | string[]): string {
  let s = CACHE_NAME;
  if (info.hit) s += '; hit';
  if (info.fwd !== undefined) s += '; fwd=' + info.fwd;
  if (info.fwdStatus !== undefined) s += '; fwd-status=' + info.fwdStatus;
  if (info.stored) s += '; stored';
  if (info.collapsed) s += '; collapsed';
  if (info.ttl !== undefined) s += '; ttl=' + info.ttl;
  if (info.detail !== undefined) s += '; detail=' + info.detail;
  // RFC 9211 §2: a cache adds its member to the end of the list and keeps the rest.
  if (upstream === undefined) return s;
  return (Array.isArray(upstream) ? upstream.join(', ') : upstream) + ', ' + s;
}

/** Seconds of freshness left (RFC 9211 §2.5 ttl), rounded down; negative once stale. */
export function ttlSeconds(freshUntil: number, now: number): number {
  return Math.floor((freshUntil - now) / 1000);
}
